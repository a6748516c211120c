// The Datasets page, the export wizard and the whole flow (tests/test_ui_datasets.cpp,
// tests/test_ui_flow.cpp), offscreen, with the real `lathe`. Settings and the run store live in a
// temporary folder.
#include <QApplication>
#include <QStandardPaths>
#include <QTemporaryDir>

int runDatasetsPageTests(int argc, char** argv);
int runStudioFlowTests(int argc, char** argv);

int main(int argc, char** argv) {
    QTemporaryDir home;
    qputenv("LATHE_HOME", home.filePath("lathe").toUtf8());
    qputenv("HF_HUB_CACHE", home.filePath("hf-hub").toUtf8());
    if (qEnvironmentVariableIsEmpty("LATHE_CLI")) qputenv("LATHE_CLI", LATHE_CLI_PATH);
    QApplication app(argc, argv);
    QApplication::setOrganizationName("LatheTest");
    QApplication::setApplicationName("LatheStudioFlowTest");
    QStandardPaths::setTestModeEnabled(true);

    int failed = 0;
    failed += runDatasetsPageTests(argc, argv) != 0;
    failed += runStudioFlowTests(argc, argv) != 0;
    return failed;
}
