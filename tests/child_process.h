// A child `lathe` process whose stdout (JSON lines) a test reads line by line and may signal.
#pragma once

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <spawn.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace lathe::test {

struct ChildProcess {
    pid_t pid = -1;
    FILE* out = nullptr;
    explicit ChildProcess(const std::vector<std::string>& args) {
        int fds[2];
        EXPECT_EQ(pipe(fds), 0);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
        posix_spawn_file_actions_addclose(&actions, fds[0]);
        std::vector<char*> argv;
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        // LATHE_TEST_SPAWN=fork takes the fork + exec path from the start (to tell a posix_spawn problem apart).
        const char* how = std::getenv("LATHE_TEST_SPAWN");
        int spawned = how && std::string(how) == "fork" ? ENOSYS : posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        if (spawned != 0) {
            // Said on stderr at once: a test that crashes later would lose gtest's buffered message.
            std::fprintf(stderr, "ChildProcess: posix_spawn(%s) failed: %s; trying fork + exec\n", argv[0], std::strerror(spawned));
            pid = fork();
            if (pid == 0) {
                dup2(fds[1], 1);
                close(fds[0]);
                execve(argv[0], argv.data(), environ);
                std::fprintf(stderr, "ChildProcess: exec(%s) failed: %s\n", argv[0], std::strerror(errno));
                _exit(127);
            }
        }
        EXPECT_GT(pid, 0) << "could not start " << args[0];
        close(fds[1]);
        out = fdopen(fds[0], "r");
    }
    // The next JSON line; false at the end of the output.
    bool next(nlohmann::json& event) {
        char* line = nullptr;
        size_t cap = 0;
        ssize_t n = getline(&line, &cap, out);
        if (n <= 0) {
            free(line);
            return false;
        }
        event = nlohmann::json::parse(std::string(line, n));
        free(line);
        return true;
    }
    // Exit status, or 128 + the signal that ended it.
    int wait() {
        int status = 0;
        const bool started = pid > 0 && waitpid(pid, &status, 0) == pid;  // never waitpid(-1): any child
        fclose(out);
        if (!started) return -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
};

// Runs to the end; returns every line.
inline std::vector<nlohmann::json> run_to_end(const std::vector<std::string>& args, int* code = nullptr) {
    ChildProcess child(args);
    std::vector<nlohmann::json> events;
    nlohmann::json e;
    while (child.next(e)) events.push_back(e);
    int rc = child.wait();
    if (code) *code = rc;
    return events;
}

// Runs to the end; returns its whole stdout (a human-readable command such as `train --dry-run`).
inline std::string run_for_text(const std::vector<std::string>& args, int* code = nullptr) {
    ChildProcess child(args);
    std::string text;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, child.out)) > 0) text.append(buf, n);
    int rc = child.wait();
    if (code) *code = rc;
    return text;
}

}  // namespace lathe::test
