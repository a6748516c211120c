// `lathe-studio`: the desktop workbench. `lathe-studio [MODEL_DIR]` opens a model folder at start.
#include <QApplication>
#include <QCommandLineParser>

#include "ui/main_window.h"

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setOrganizationName("Lathe");
    QApplication::setApplicationName("Lathe Studio");
    QApplication::setApplicationVersion("0.1.0");

    QCommandLineParser parser;
    parser.setApplicationDescription("Lathe Studio: finetune language models");
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument("model", "model folder to open");
    parser.process(app);

    MainWindow window;
    window.show();
    if (!parser.positionalArguments().isEmpty()) window.openModel(parser.positionalArguments().first());
    return app.exec();
}
