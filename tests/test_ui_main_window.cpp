// The main window: the page list and stack, shortcuts, addPage, settings that persist, errors shown.
#include <QLabel>
#include <QListWidget>
#include <QMenuBar>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QSettings>
#include <QStackedWidget>
#include <QTemporaryDir>
#include <QTimer>
#include <QtTest>

#include "tests/ui_test_support.h"
#include "ui/main_window.h"
#include "ui/pages/merge_page.h"
#include "ui/pages/evaluate_page.h"
#include "ui/pages/chat_page.h"
#include "ui/pages/models_page.h"
#include "ui/pages/runs_page.h"
#include "ui/pages/train_page.h"

class MainWindowTest : public QObject {
    Q_OBJECT
private slots:
    void init() { QSettings().clear(); }

    void pagesSwitchFromTheListAndShortcuts() {
        MainWindow window;
        window.show();
        window.activateWindow();  // shortcuts go to the active window
        QVERIFY(QTest::qWaitForWindowActive(&window));
        auto* list = window.findChild<QListWidget*>("pageList");
        QVERIFY(list);
        QStringList titles;
        for (int i = 0; i < list->count(); ++i) titles << list->item(i)->text();
        QCOMPARE(titles, (QStringList{"Models", "Datasets", "Train", "Monitor", "Runs", "Chat", "Evaluate", "Merge"}));
        QCOMPARE(window.currentPage(), window.modelsPage());
        list->setCurrentRow(4);
        QCOMPARE(window.currentPage(), window.runsPage());
        QTest::keyClick(&window, Qt::Key_6, Qt::ControlModifier);
        QCOMPARE(window.currentPage(), window.chatPage());
        QTest::keyClick(&window, Qt::Key_7, Qt::ControlModifier);
        QCOMPARE(window.currentPage(), static_cast<QWidget*>(window.evaluatePage()));
        QTest::keyClick(&window, Qt::Key_8, Qt::ControlModifier);
        QCOMPARE(window.currentPage(), static_cast<QWidget*>(window.mergePage()));
        QTest::keyClick(&window, Qt::Key_3, Qt::ControlModifier);
        QCOMPARE(window.currentPage(), window.trainPage());

        // The one registration point every page uses.
        auto* extra = new QLabel("extra page");
        QCOMPARE(window.addPage("Extra", extra), 8);
        QCOMPARE(list->item(8)->text(), QString("Extra"));
        QTest::keyClick(&window, Qt::Key_9, Qt::ControlModifier);
        QCOMPARE(window.currentPage(), extra);
    }

    void followsTheSystemPalette() {
        MainWindow window;
        window.resize(1280, 800);
        window.show();
        auto* list = window.findChild<QListWidget*>("pageList");
        const QPalette light = QApplication::palette();
        // A dark palette as a desktop in dark mode hands it over.
        QPalette dark;
        for (auto [role, color] : std::initializer_list<std::pair<QPalette::ColorRole, QColor>>{
                 {QPalette::Window, QColor(0x2d, 0x2d, 0x2d)}, {QPalette::WindowText, QColor(0xe8, 0xe8, 0xe8)},
                 {QPalette::Base, QColor(0x1e, 0x1e, 0x1e)}, {QPalette::AlternateBase, QColor(0x26, 0x26, 0x26)},
                 {QPalette::Text, QColor(0xe8, 0xe8, 0xe8)}, {QPalette::Button, QColor(0x3a, 0x3a, 0x3a)},
                 {QPalette::ButtonText, QColor(0xe8, 0xe8, 0xe8)}, {QPalette::Highlight, QColor(0x2a, 0x6f, 0xc9)},
                 {QPalette::HighlightedText, Qt::white}, {QPalette::PlaceholderText, QColor(0x90, 0x90, 0x90)},
                 {QPalette::Light, QColor(0x50, 0x50, 0x50)}, {QPalette::Mid, QColor(0x30, 0x30, 0x30)},
                 {QPalette::Dark, QColor(0x20, 0x20, 0x20)}, {QPalette::Link, QColor(0x6a, 0xa8, 0xff)}})
            dark.setColor(role, color);
        for (auto role : {QPalette::WindowText, QPalette::Text, QPalette::ButtonText})
            dark.setColor(QPalette::Disabled, role, QColor(0x80, 0x80, 0x80));
        QApplication::setPalette(dark);
        QTest::qWait(20);
        QVERIFY(list->palette().color(QPalette::Base).lightness() > dark.color(QPalette::Window).lightness());
        QVERIFY(list->palette().color(QPalette::Text).lightness() > 128);
        QTemporaryDir dir;
        QVERIFY(window.openModel(uitest::makeModelWithTokenizer(dir.path())));
        QTRY_VERIFY(window.modelsPage()->findChild<QPlainTextEdit*>("chatTemplate")->toPlainText().contains("im_start"));  // the template, read
        QTest::qWait(50);
        QVERIFY(uitest::saveScreenshot(&window, "models_page_dark"));
        QApplication::setPalette(light);
        QTest::qWait(20);
        QVERIFY(list->palette().color(QPalette::Base).lightness() < light.color(QPalette::Window).lightness());
    }

    void settingsPersist() {
        QTemporaryDir dir;
        QString store = dir.filePath("runs.db");
        {
            MainWindow window;
            window.show();
            QVERIFY(window.openModel(uitest::hfModel("llama")));
            window.runsPage()->setStorePath(store);
            window.showPage(window.chatPage());
            window.resize(1200, 760);
            window.close();
        }
        MainWindow again;
        QCOMPARE(again.currentPage(), again.chatPage());
        QCOMPARE(again.modelsPage()->recentModels().value(0), uitest::hfModel("llama"));
        QCOMPARE(again.runsPage()->storePath(), store);
        QCOMPARE(again.chatPage()->model(), uitest::hfModel("llama"));
        QCOMPARE(again.size(), QSize(1200, 760));
        QMenu* recent = nullptr;
        for (QMenu* m : again.menuBar()->findChildren<QMenu*>())
            if (m->title().contains("Recent")) recent = m;
        QVERIFY(recent);
        QCOMPARE(recent->actions().value(0)->text(), uitest::hfModel("llama"));
    }

    void badFolderShowsWhyAndKeepsState() {
        MainWindow window;
        window.show();
        QVERIFY(window.openModel(uitest::hfModel("qwen2")));
        // The warning dialog is modal: close it as soon as it appears, remembering its text.
        QString shown;
        QTimer::singleShot(0, [&] {
            for (QWidget* w : QApplication::topLevelWidgets())
                if (auto* box = qobject_cast<QMessageBox*>(w)) {
                    shown = box->text();
                    uitest::saveScreenshot(box, "main_window_error");
                    box->accept();
                }
        });
        QVERIFY(!window.openModel("/nonexistent/model"));
        QVERIFY2(shown.contains("/nonexistent/model"), qPrintable(shown));
        QCOMPARE(window.modelsPage()->currentModel(), uitest::hfModel("qwen2"));
    }
};

int runMainWindowTests(int argc, char** argv) {
    MainWindowTest t;
    return QTest::qExec(&t, argc, argv);
}

#include "test_ui_main_window.moc"
