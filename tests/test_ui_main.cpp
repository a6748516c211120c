// Lathe Studio's tests: every page driven offscreen, with the real `lathe` binary doing generation and
// training. Settings, the Hugging Face cache and the run store point into a temporary folder, never at
// the user's own.
#include <QApplication>
#include <QStandardPaths>
#include <QTemporaryDir>

#include "tests/ui_test_support.h"

int main(int argc, char** argv) {
    QTemporaryDir home;
    qputenv("LATHE_HOME", home.filePath("lathe").toUtf8());
    qputenv("HF_HUB_CACHE", home.filePath("hf-hub").toUtf8());
    if (qEnvironmentVariableIsEmpty("LATHE_CLI")) qputenv("LATHE_CLI", LATHE_CLI_PATH);
    QApplication app(argc, argv);
    QApplication::setOrganizationName("LatheTest");
    QApplication::setApplicationName("LatheStudioTest");
    QStandardPaths::setTestModeEnabled(true);  // QSettings under ~/.qttest, away from the real ones

    int failed = 0;
    failed += runMainWindowTests(argc, argv) != 0;
    failed += runModelsPageTests(argc, argv) != 0;
    failed += runRunsPageTests(argc, argv) != 0;
    failed += runChatPageTests(argc, argv) != 0;
    failed += runMonitorPageTests(argc, argv) != 0;
    failed += runEvaluatePageTests(argc, argv) != 0;
    failed += runMergePageTests(argc, argv) != 0;
    return failed;
}
