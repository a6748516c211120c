// Lathe Studio's main window, driven offscreen: open a fixture model, check what it shows, save a
// screenshot to docs/screenshots for people to look at.
#include <QDir>
#include <QLabel>
#include <QMessageBox>
#include <QTimer>
#include <QtTest>

#include "ui/main_window.h"

class MainWindowTest : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() {
        QCoreApplication::setOrganizationName("LatheTest");
        QCoreApplication::setApplicationName("LatheStudioTest");
    }

    void showsModelSummary() {
        MainWindow window;
        window.resize(1280, 800);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        QVERIFY(window.openModel(QString(LATHE_FIXTURES) + "/hf/models/qwen2"));
        QTest::qWait(50);  // let the new rows show and lay out, as the event loop would
        QStringList texts;
        for (QLabel* l : window.findChildren<QLabel*>())
            if (l->isVisible() && !l->visibleRegion().isEmpty()) texts << l->text();
        QString all = texts.join("\n");
        QVERIFY2(all.contains("Qwen2"), qPrintable(all));
        QVERIFY2(all.contains("float32"), qPrintable(all));
        QVERIFY2(all.contains("107.1K"), qPrintable(all));
        QVERIFY2(all.contains("KiB"), qPrintable(all));
        QDir().mkpath(LATHE_SCREENSHOTS);
        QVERIFY(window.grab().save(QString(LATHE_SCREENSHOTS) + "/main_window_model.png"));
    }

    void badFolderShowsWhyAndKeepsState() {
        MainWindow window;
        window.show();
        // The warning dialog is modal: close it as soon as it appears, remembering its text.
        QString shown;
        QTimer::singleShot(0, [&] {
            for (QWidget* w : QApplication::topLevelWidgets())
                if (auto* box = qobject_cast<QMessageBox*>(w)) {
                    shown = box->text();
                    box->grab().save(QString(LATHE_SCREENSHOTS) + "/main_window_error.png");
                    box->accept();
                }
        });
        QVERIFY(!window.openModel("/nonexistent/model"));
        QVERIFY2(shown.contains("/nonexistent/model"), qPrintable(shown));
    }
};

QTEST_MAIN(MainWindowTest)
#include "test_ui_main_window.moc"
