// `lathe-studio`: the desktop workbench. `lathe-studio [MODEL_DIR]` opens a model folder at start;
// `lathe-studio --demo` opens the Train page on the bundled demo (resources/demo-data, LoRA), ready to
// start: SmolLM2-135M-Instruct when packaging/demo.sh imported it, else the tiny resources/demo-model.
#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QFileInfo>

#include "core/util/version.h"
#include "ui/main_window.h"
#include "ui/pages/train_page.h"

namespace {

// resources/ of a build tree (build/app/lathe-studio → resources/) or beside an installed binary;
// $LATHE_RESOURCES wins.
QString resourcesDir() {
    QString env = qEnvironmentVariable("LATHE_RESOURCES");
    if (!env.isEmpty()) return env;
    const QDir app(QCoreApplication::applicationDirPath());
    for (const QString& candidate : {app.filePath("../../resources"), app.filePath("../resources"), app.filePath("../share/lathe/resources")})
        if (QFileInfo::exists(candidate + "/demo-data/run.yaml")) return QDir::cleanPath(candidate);
    return QDir::cleanPath(app.filePath("../../resources"));
}

}  // namespace

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setOrganizationName("Lathe");
    QApplication::setApplicationName("Lathe Studio");
    QApplication::setApplicationVersion(QString::fromLatin1(lathe::version()));
    // The installed desktop entry (packaging/deb): Wayland compositors match the window to it by this
    // name, for the icon and the application menu.
    QGuiApplication::setDesktopFileName("io.github.lathe.Studio");

    QCommandLineParser parser;
    parser.setApplicationDescription("Lathe Studio: finetune language models");
    parser.addHelpOption();
    parser.addVersionOption();
    QCommandLineOption demo("demo", "open the bundled demo: the demo model and dataset with LoRA, ready to start");
    parser.addOption(demo);
    parser.addPositionalArgument("model", "model folder to open");
    parser.process(app);

    MainWindow window;
    window.show();
    if (!parser.positionalArguments().isEmpty()) window.openModel(parser.positionalArguments().first());
    if (parser.isSet(demo)) {
        const QString resources = resourcesDir();
        if (window.trainPage()->loadDemo(resources)) {
            window.openModel(QString::fromStdString(window.trainPage()->config().base_model));
            window.showPage(window.trainPage());
        }
    }
    return app.exec();
}
