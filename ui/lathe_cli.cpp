#include "ui/lathe_cli.h"

#include <QCoreApplication>
#include <QFileInfo>
#include <QStandardPaths>

QString latheCliPath() {
    QString env = qEnvironmentVariable("LATHE_CLI");
    if (!env.isEmpty()) return env;
    QString beside = QCoreApplication::applicationDirPath() + "/lathe";
    if (QFileInfo(beside).isExecutable()) return beside;
    return QStandardPaths::findExecutable("lathe");
}
