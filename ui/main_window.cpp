#include "ui/main_window.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QKeySequence>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QSettings>
#include <QStackedWidget>
#include <QStatusBar>
#include <QTabWidget>
#include <QToolBar>

#include "core/util/error.h"
#include "ui/model_summary_view.h"
#include "ui/pages/monitor_page.h"
#include "ui/pages/train_page.h"

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
    setWindowTitle(tr("Lathe Studio"));
    resize(1280, 800);

    auto* open = new QAction(tr("&Open Model Folder…"), this);
    open->setShortcut(QKeySequence::Open);
    connect(open, &QAction::triggered, this, &MainWindow::chooseModel);
    auto* quit = new QAction(tr("&Quit"), this);
    quit->setShortcut(QKeySequence::Quit);
    connect(quit, &QAction::triggered, this, &QWidget::close);

    QMenu* file = menuBar()->addMenu(tr("&File"));
    file->addAction(open);
    recent_menu_ = file->addMenu(tr("Open &Recent"));
    file->addSeparator();
    file->addAction(quit);
    QToolBar* toolbar = addToolBar(tr("Main"));
    toolbar->setObjectName("mainToolbar");
    toolbar->setToolButtonStyle(Qt::ToolButtonTextOnly);
    toolbar->addAction(open);

    stack_ = new QStackedWidget(this);
    empty_ = new QLabel(tr("Open a Hugging Face model folder (config.json and *.safetensors)\n"
                           "to see its architecture, size and precision.\n\nFile ▸ Open Model Folder…  (%1)")
                            .arg(QKeySequence(QKeySequence::Open).toString(QKeySequence::NativeText)),
                        this);
    empty_->setAlignment(Qt::AlignCenter);
    summary_ = new ModelSummaryView(this);
    stack_->addWidget(empty_);
    stack_->addWidget(summary_);
    // Pages as tabs until the sidebar shell lands; Train starts runs that the Monitor shows.
    tabs_ = new QTabWidget(this);
    tabs_->setDocumentMode(true);
    train_ = new TrainPage(this);
    monitor_ = new MonitorPage(this);
    tabs_->addTab(stack_, tr("Model"));
    tabs_->addTab(train_, tr("Train"));
    tabs_->addTab(monitor_, tr("Monitor"));
    connect(train_, &TrainPage::startRequested, monitor_, &MonitorPage::startRun);
    connect(monitor_, &MonitorPage::showRequested, this, [this] { tabs_->setCurrentWidget(monitor_); });
    setCentralWidget(tabs_);
    statusBar()->showMessage(tr("Ready"));

    recent_ = QSettings().value("recentModels").toStringList();
    rebuildRecentMenu();
}

void MainWindow::closeEvent(QCloseEvent* event) {
    if (monitor_->confirmClose()) event->accept();
    else event->ignore();
}

void MainWindow::chooseModel() {
    QString dir = QFileDialog::getExistingDirectory(this, tr("Open Model Folder"), recent_.value(0));
    if (!dir.isEmpty()) openModel(dir);
}

bool MainWindow::openModel(const QString& dir) {
    try {
        // Reads config.json and the safetensors headers only: instant even for large models.
        lathe::ModelSummary s = lathe::summarize_model(dir.toStdString());
        summary_->showSummary(s);
        stack_->setCurrentWidget(summary_);
        tabs_->setCurrentWidget(stack_);
        setWindowTitle(tr("%1 — Lathe Studio").arg(QFileInfo(dir).fileName()));
        statusBar()->showMessage(tr("Opened %1").arg(dir));
        rememberRecent(dir);
        return true;
    } catch (const lathe::Error& e) {
        QMessageBox::warning(this, tr("Cannot open model"), QString::fromStdString(e.what()));
        statusBar()->showMessage(tr("Could not open %1").arg(dir));
        return false;
    }
}

void MainWindow::rememberRecent(const QString& dir) {
    recent_.removeAll(dir);
    recent_.prepend(dir);
    while (recent_.size() > 10) recent_.removeLast();
    QSettings().setValue("recentModels", recent_);
    rebuildRecentMenu();
}

void MainWindow::rebuildRecentMenu() {
    recent_menu_->clear();
    for (const QString& dir : recent_) {
        QAction* a = recent_menu_->addAction(dir);
        connect(a, &QAction::triggered, this, [this, dir] { openModel(dir); });
    }
    recent_menu_->setEnabled(!recent_.isEmpty());
}
