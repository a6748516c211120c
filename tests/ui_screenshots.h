// Where the Studio tests save their screenshots: under the build folder, so a plain test run leaves the
// source tree unmodified; with LATHE_UPDATE_SCREENSHOTS=1 into docs/screenshots, to refresh the ones the
// docs show.
#pragma once

#include <QDir>
#include <QString>
#include <QtGlobal>

namespace uitest {

inline QString screenshotDir() {
    const QString dir = qEnvironmentVariable("LATHE_UPDATE_SCREENSHOTS") == "1" ? QString(LATHE_DOCS_SCREENSHOTS) : QString(LATHE_SCREENSHOTS);
    QDir().mkpath(dir);
    return dir;
}

}  // namespace uitest
