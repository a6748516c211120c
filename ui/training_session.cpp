#include "ui/training_session.h"

#include <csignal>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <QCoreApplication>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QStandardPaths>
#include <QTimer>

#include "ui/lathe_cli.h"

namespace {

// True while the process exists and is not a zombie. The trainer is double-forked (not our child), so
// a zombie waits for whoever reaps orphans here; /proc shows its state.
bool processAlive(qint64 pid) {
    if (pid <= 0) return false;
    QFile stat(QString("/proc/%1/stat").arg(pid));
    if (!stat.open(QIODevice::ReadOnly)) return ::kill(static_cast<pid_t>(pid), 0) == 0;
    QByteArray s = stat.readAll();
    int close = s.lastIndexOf(')');  // "pid (comm) S ...": comm may hold spaces and parentheses
    return close > 0 && close + 2 < s.size() && s[close + 2] != 'Z' && s[close + 2] != 'X';
}

// A TCP port nobody listens on now (the kernel's pick), for the ranks' rendezvous.
int freePort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 29500;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    int port = 29500;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
        port = ntohs(addr.sin_port);
    ::close(fd);
    return port;
}

}  // namespace

QString adviceFor(lathe::ErrorKind kind) {
    switch (kind) {
        case lathe::ErrorKind::out_of_memory:
            return QObject::tr("Lower micro_batch_size or sequence_len, turn on gradient checkpointing, use bf16, or train an adapter "
                               "(LoRA) instead of every weight. Then press Resume: the run continues from its last checkpoint.");
        case lathe::ErrorKind::missing_file: return QObject::tr("Check the model folder and dataset paths on the Train page.");
        case lathe::ErrorKind::diverged: return QObject::tr("Lower the learning rate or set max_grad_norm, then start again.");
        case lathe::ErrorKind::bad_data:
            return QObject::tr("Fix the rows the message names (the Datasets page shows them), or set strict: false to skip bad rows, "
                               "then start again.");
        case lathe::ErrorKind::other: break;
    }
    return QObject::tr("The run and its checkpoints are kept in the run store: fix the cause, then press Resume to continue "
                       "from the last checkpoint, or start a new run.");
}

TrainingSession::TrainingSession(QObject* parent) : QObject(parent), timer_(new QTimer(this)) {
    qRegisterMetaType<lathe::StepEvent>();
    timer_->setInterval(100);
    connect(timer_, &QTimer::timeout, this, &TrainingSession::poll);
}

TrainingSession::~TrainingSession() = default;  // a running child is left running: it is detached

bool TrainingSession::start(const QString& configPath, const RankLaunch& ranks) {
    return start(QStringList{QFileInfo(configPath).absoluteFilePath()}, ranks);
}

bool TrainingSession::start(const QStringList& trainArgs, const RankLaunch& ranks) {
    if (isRunning()) return false;
    ranks_ = ranks;
    const QStringList train = QStringList{"train"} + trainArgs;
    if (ranks.processes <= 1) return launch(train, ranks.cuda_visible_devices);
    return launch(QStringList{"launch", "--nproc-per-node", QString::number(ranks.processes), "--master-port", QString::number(freePort()), "--"} + train,
                  ranks.cuda_visible_devices);
}

bool TrainingSession::resume(qint64 runId, const RankLaunch& ranks) { return start({"--resume", QString::number(runId)}, ranks); }

bool TrainingSession::launch(const QStringList& trainArgs, const QString& cudaVisibleDevices) {
    if (isRunning()) return false;
    QString dir = QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation) + "/sessions";
    QDir().mkpath(dir);
    QString stem = dir + "/" + QDateTime::currentDateTime().toString("yyyyMMdd-HHmmss-zzz");
    events_path_ = stem + ".events.jsonl";
    stderr_path_ = stem + ".stderr.txt";
    events_offset_ = stderr_offset_ = 0;
    events_partial_.clear();
    stderr_partial_.clear();
    stderr_tail_.clear();
    end_status_.reset();
    error_reported_ = false;
    run_id_ = 0;

    QStringList args = trainArgs;
    if (!store_path_.isEmpty()) args << "--store" << store_path_;
    const QString cli = latheCliPath();
    QProcess p;
    p.setProgram(cli);
    p.setArguments(args);
    p.setStandardInputFile(QProcess::nullDevice());
    p.setStandardOutputFile(events_path_);
    p.setStandardErrorFile(stderr_path_);
    if (!cudaVisibleDevices.isEmpty()) {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert("CUDA_VISIBLE_DEVICES", cudaVisibleDevices);
        p.setProcessEnvironment(env);
    }
    last_args_ = args;
    qint64 pid = 0;
    if (!p.startDetached(&pid)) {
        state_ = State::Finished;
        emit failed(tr("Could not start the trainer %1: %2").arg(cli.isEmpty() ? QStringLiteral("lathe") : cli, p.errorString()),
                    tr("Build the `lathe` command line next to lathe-studio, or point LATHE_CLI at it."), lathe::ErrorKind::missing_file);
        emit finished(lathe::RunStatus::failed);
        return false;
    }
    pid_ = pid;
    state_ = State::Running;
    timer_->start();
    return true;
}

void TrainingSession::stop() {
    if (state_ != State::Running) return;
    state_ = State::Stopping;
    ::kill(static_cast<pid_t>(pid_), SIGTERM);
}

void TrainingSession::detach() {
    timer_->stop();
    state_ = State::Idle;
    pid_ = 0;
}

void TrainingSession::poll() {
    // Liveness first, then read: whatever the child wrote before dying is read before finishing.
    const bool alive = processAlive(pid_);
    QFile events(events_path_), err(stderr_path_);
    readNew(events, events_offset_, events_partial_, true);
    readNew(err, stderr_offset_, stderr_partial_, false);
    if (alive) return;
    if (!events_partial_.isEmpty()) {  // a last line without its newline
        events_partial_ += '\n';
        readNew(events, events_offset_, events_partial_, true);
    }
    if (!end_status_) {
        // Died without an `end` event: killed, crashed, or refused its arguments before a run existed.
        QString reason = stderr_tail_.isEmpty() ? tr("The trainer (pid %1) ended without saying why — it was killed or crashed.").arg(pid_)
                                                : tr("The trainer ended: %1").arg(stderr_tail_.join("\n"));
        if (!error_reported_)
            emit failed(reason, run_id_ > 0 ? tr("The run and its checkpoints are kept: press Resume to continue from the last checkpoint.")
                                            : tr("Check the configuration on the Train page."),
                        lathe::ErrorKind::other);
        // A run whose process died without ending it is what the run store calls interrupted.
        finish(run_id_ > 0 ? lathe::RunStatus::interrupted : lathe::RunStatus::failed);
    } else {
        finish(*end_status_);
    }
}

void TrainingSession::readNew(QFile& file, qint64& offset, QByteArray& partial, bool isEvents) {
    if (!file.open(QIODevice::ReadOnly)) return;
    if (file.size() > offset) {
        file.seek(offset);
        QByteArray chunk = file.readAll();
        offset += chunk.size();
        partial += chunk;
    }
    file.close();
    int nl;
    while ((nl = partial.indexOf('\n')) >= 0) {
        QByteArray line = partial.left(nl).trimmed();
        partial.remove(0, nl + 1);
        if (line.isEmpty()) continue;
        if (isEvents) {
            try {
                // nullopt: an event a newer trainer added, which this Studio has no use for.
                if (auto event = lathe::parse_event_line(std::string_view(line.constData(), static_cast<size_t>(line.size())))) handleEvent(*event);
            } catch (const std::exception&) {
                emit stderrLine(QString::fromUtf8(line));  // not an event we can read: show it, don't drop it
            }
        } else {
            QString text = QString::fromUtf8(line);
            stderr_tail_ << text;
            while (stderr_tail_.size() > 8) stderr_tail_.removeFirst();
            emit stderrLine(text);
        }
    }
}

void TrainingSession::handleEvent(const lathe::EventLine& line) {
    if (line.run_id > 0) run_id_ = line.run_id;
    std::visit(
        [this](const auto& e) {
            using E = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<E, lathe::StartEvent>) {
                emit started(run_id_, e.step, e.total_steps, QString::fromStdString(e.device));
            } else if constexpr (std::is_same_v<E, lathe::StepEvent>) {
                emit stepped(e);
            } else if constexpr (std::is_same_v<E, lathe::EvalEvent>) {
                if (e.probe.empty()) {
                    emit evaluated(e.step, e.eval_loss);
                    if (e.projection) emit validationProjected(e.step, *e.projection);
                } else {
                    emit probeEvaluated(e.step, QString::fromStdString(e.probe), e.eval_loss);
                }
            } else if constexpr (std::is_same_v<E, lathe::TaskScoreEvent>) {
                emit taskScored(e.step, QString::fromStdString(e.task), QString::fromStdString(e.metric), QString::fromStdString(e.filter), e.value);
            } else if constexpr (std::is_same_v<E, lathe::CheckpointEvent>) {
                emit checkpointSaved(e.step, QString::fromStdString(e.path));
            } else if constexpr (std::is_same_v<E, lathe::WarningEvent>) {
                emit warning(e.step, QString::fromStdString(e.message));
            } else if constexpr (std::is_same_v<E, lathe::ErrorEvent>) {
                const QString message = QString::fromStdString(e.message);
                error_reported_ = true;
                emit failed(e.kind == lathe::ErrorKind::out_of_memory ? tr("Out of memory: %1").arg(message) : message, adviceFor(e.kind), e.kind);
            } else if constexpr (std::is_same_v<E, lathe::EndEvent>) {
                end_status_ = e.status;
            }
            // DatasetsEvent: stored only, never printed.
        },
        line.event);
}

void TrainingSession::finish(lathe::RunStatus status) {
    timer_->stop();
    state_ = State::Finished;
    pid_ = 0;
    emit finished(status);
}
