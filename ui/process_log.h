// A child process's stderr shown in a log view as it arrives.
#pragma once

#include <QByteArray>
#include <QPlainTextEdit>
#include <QString>
#include <QTextCursor>

// The pieces a process writes arrive in arbitrary chunks (`lathe` writes one line in several writes), so
// they are joined as written: appending each chunk as its own paragraph would break lines apart. A line
// written before the process starts (its command line) ends with a newline so the output starts below it.
inline void appendProcessOutput(QPlainTextEdit* log, const QByteArray& chunk) {
    if (chunk.isEmpty()) return;
    log->moveCursor(QTextCursor::End);
    log->insertPlainText(QString::fromUtf8(chunk));
    log->ensureCursorVisible();
}
