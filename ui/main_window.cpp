#include "ui/main_window.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QKeySequence>
#include <QListWidget>
#include <QMenuBar>
#include <QMessageBox>
#include <QSettings>
#include <QStackedWidget>
#include <QStatusBar>
#include <QWizard>

#include "core/runs/run_store.h"
#include "ui/export_wizard.h"
#include "ui/pages/chat_page.h"
#include "ui/pages/datasets_page.h"
#include "ui/pages/evaluate_page.h"
#include "ui/pages/merge_page.h"
#include "ui/pages/models_page.h"
#include "ui/pages/monitor_page.h"
#include "ui/pages/runs_page.h"
#include "ui/pages/train_page.h"
#include "ui/studio_run_store.h"

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
    setWindowTitle(tr("Lathe Studio"));
    resize(1280, 800);

    sidebar_ = new QListWidget(this);
    sidebar_->setObjectName("pageList");
    sidebar_->setFrameShape(QFrame::NoFrame);
    sidebar_->setFixedWidth(150);
    stack_ = new QStackedWidget(this);
    connect(sidebar_, &QListWidget::currentRowChanged, stack_, &QStackedWidget::setCurrentIndex);
    auto* central = new QWidget(this);
    auto* layout = new QHBoxLayout(central);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(0);
    layout->addWidget(sidebar_);
    layout->addWidget(stack_, 1);
    setCentralWidget(central);
    styleSidebar();

    // Menus. Page-specific keys (Enter/Ctrl+Enter to generate, Esc to stop, F5, Del) live on the pages.
    QMenu* file = menuBar()->addMenu(tr("&File"));
    QAction* open = file->addAction(tr("&Open Model Folder…"));
    open->setShortcut(QKeySequence::Open);
    recent_menu_ = file->addMenu(tr("Open &Recent Model"));
    file->addSeparator();
    QAction* store = file->addAction(tr("Run &Store Database…"));
    file->addSeparator();
    QAction* quit = file->addAction(tr("&Quit"));
    quit->setShortcut(QKeySequence::Quit);
    connect(quit, &QAction::triggered, this, &QWidget::close);
    view_menu_ = menuBar()->addMenu(tr("&View"));
    QMenu* help = menuBar()->addMenu(tr("&Help"));
    connect(help->addAction(tr("&About Lathe Studio")), &QAction::triggered, this, [this] {
        QMessageBox::about(this, tr("About Lathe Studio"),
                           tr("<b>Lathe Studio %1</b><p>Finetune language models on your own machine. Training and generation run "
                              "in the <tt>lathe</tt> command-line program, so the window stays responsive.")
                               .arg(QApplication::applicationVersion()));
    });

    // The run store, where the last session left it; every page reads this one.
    store_ = new StudioRunStore(this);
    store_->setPath(QSettings().value("runStore", QString::fromStdString(lathe::RunStore::default_path())).toString());
    models_ = new ModelsPage(this);
    runs_ = new RunsPage(*store_, this);
    chat_ = new ChatPage(*store_, this);
    train_ = new TrainPage(this);
    monitor_ = new MonitorPage(*store_, this);
    datasets_ = new DatasetsPage(this);
    evaluate_ = new EvaluatePage(*store_, this);
    merge_ = new MergePage(*store_, this);
    // In the order of the work: pick a model, look at the data, train, watch, compare, try it, score it, merge.
    addPage(tr("Models"), models_);
    addPage(tr("Datasets"), datasets_);
    addPage(tr("Train"), train_);
    addPage(tr("Monitor"), monitor_);
    addPage(tr("Runs"), runs_);
    addPage(tr("Chat"), chat_);
    addPage(tr("Evaluate"), evaluate_);
    addPage(tr("Merge"), merge_);
    // Train starts runs that the Monitor shows; the Runs page resumes runs and reopens their charts there.
    connect(train_, &TrainPage::startRequested, monitor_, &MonitorPage::startRun);
    connect(monitor_, &MonitorPage::showRequested, this, [this] { showPage(monitor_); });
    connect(runs_, &RunsPage::resumeRequested, monitor_, &MonitorPage::resumeRun);
    connect(runs_, &RunsPage::openRunRequested, monitor_, &MonitorPage::openRun);

    // Datasets page and export wizard.
    connect(models_, &ModelsPage::modelOpened, datasets_, &DatasetsPage::setModel);
    connect(models_, &ModelsPage::recentModelsChanged, datasets_, &DatasetsPage::setRecentModels);
    connect(datasets_, &DatasetsPage::statusMessage, this, [this](const QString& text) { statusBar()->showMessage(text, 10000); });
    connect(datasets_, &DatasetsPage::trainRequested, this, [this](const QString& path) {
        lathe::TrainConfig c = train_->config();
        lathe::DatasetSpec spec;
        spec.path = path.toStdString();
        c.datasets = {spec};
        train_->setConfig(c);
        showPage(train_);
    });
    connect(runs_, &RunsPage::exportRequested, this, [this](qint64 id) { openExportWizard(id); });
    auto* exportAction = new QAction(tr("&Export Model…"), this);
    file->insertAction(store, exportAction);
    exportAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_E));
    connect(exportAction, &QAction::triggered, this, [this] { openExportWizard(runs_->selectedRun()); });
    auto* openData = new QAction(tr("Open &Dataset…"), this);
    file->insertAction(exportAction, openData);
    openData->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_O));
    connect(openData, &QAction::triggered, this, [this] {
        showPage(datasets_);
        datasets_->chooseFile();
    });

    connect(open, &QAction::triggered, this, [this] {
        showPage(models_);
        models_->chooseModel();
    });
    connect(store, &QAction::triggered, this, [this] {
        showPage(runs_);
        runs_->chooseStorePath();
    });
    auto status = [this](const QString& text) { statusBar()->showMessage(text, 10000); };
    connect(models_, &ModelsPage::statusMessage, this, status);
    connect(runs_, &RunsPage::statusMessage, this, status);
    connect(chat_, &ChatPage::statusMessage, this, status);
    connect(models_, &ModelsPage::recentModelsChanged, this, &MainWindow::rebuildRecentMenu);
    connect(models_, &ModelsPage::recentModelsChanged, chat_, &ChatPage::setRecentModels);
    connect(models_, &ModelsPage::modelOpened, this, [this](const QString& dir) {
        setWindowTitle(tr("%1 — Lathe Studio").arg(QFileInfo(dir).fileName()));
        chat_->setModel(dir);
        // A model opened here is what a new run trains, unless the Train page already has one.
        lathe::TrainConfig c = train_->config();
        if (c.base_model.empty()) {
            c.base_model = dir.toStdString();
            train_->setConfig(c);
        }
    });
    connect(store_, &StudioRunStore::pathChanged, monitor_, &MonitorPage::refreshOverlayChoices);
    connect(store_, &StudioRunStore::pathChanged, evaluate_, &EvaluatePage::refreshRuns);
    connect(store_, &StudioRunStore::changed, evaluate_, &EvaluatePage::storeChanged);
    connect(evaluate_, &EvaluatePage::statusMessage, this, status);
    connect(runs_, &RunsPage::runsChanged, chat_, &ChatPage::refreshCheckpoints);
    // Merge: models and runs to pick from; the merged folder opens on the Models page.
    connect(models_, &ModelsPage::recentModelsChanged, merge_, &MergePage::setRecentModels);
    connect(store_, &StudioRunStore::changed, merge_, &MergePage::refreshRuns);
    connect(store_, &StudioRunStore::pathChanged, merge_, &MergePage::refreshRuns);
    connect(merge_, &MergePage::statusMessage, this, status);
    connect(merge_, &MergePage::merged, this, [this](const QString& dir) { openModel(dir); });
    connect(store_, &StudioRunStore::pathChanged, this, [](const QString& path) { QSettings().setValue("runStore", path); });

    // Settings from the last session.
    QSettings settings;
    chat_->setRecentModels(models_->recentModels());
    datasets_->setRecentModels(models_->recentModels());
    merge_->setRecentModels(models_->recentModels());
    if (!models_->recentModels().isEmpty()) chat_->setModel(models_->recentModels().first());
    chat_->refreshCheckpoints();
    rebuildRecentMenu(models_->recentModels());
    restoreGeometry(settings.value("window/geometry").toByteArray());
    sidebar_->setCurrentRow(std::clamp(settings.value("window/page", 0).toInt(), 0, stack_->count() - 1));
    statusBar()->showMessage(tr("Ready"));
}

MainWindow::~MainWindow() {
    // Pages and wizards read the store: they go first (children are otherwise deleted in the order made).
    for (QWizard* wizard : findChildren<QWizard*>(Qt::FindDirectChildrenOnly)) delete wizard;
    delete takeCentralWidget();
}

int MainWindow::addPage(const QString& title, QWidget* page) {
    int index = stack_->addWidget(page);
    sidebar_->addItem(title);
    QAction* show = view_menu_->addAction(title);
    if (index < 9) show->setShortcut(QKeySequence(Qt::CTRL | static_cast<Qt::Key>(Qt::Key_1 + index)));
    connect(show, &QAction::triggered, this, [this, page] { showPage(page); });
    if (sidebar_->currentRow() < 0) sidebar_->setCurrentRow(0);
    return index;
}

void MainWindow::showPage(QWidget* page) {
    int index = stack_->indexOf(page);
    if (index >= 0) sidebar_->setCurrentRow(index);
}

QWidget* MainWindow::currentPage() const { return stack_->currentWidget(); }

ExportWizard* MainWindow::openExportWizard(qint64 runId) {
    auto* wizard = new ExportWizard(*store_, runId, this);
    wizard->setAttribute(Qt::WA_DeleteOnClose);
    connect(wizard, &ExportWizard::exported, this, [this](const QString& path) { statusBar()->showMessage(tr("Exported to %1").arg(path), 10000); });
    wizard->show();
    return wizard;
}

bool MainWindow::openModel(const QString& dir) {
    showPage(models_);
    return models_->openModel(dir);
}

void MainWindow::rebuildRecentMenu(const QStringList& recent) {
    recent_menu_->clear();
    for (const QString& dir : recent) {
        QAction* a = recent_menu_->addAction(dir);
        connect(a, &QAction::triggered, this, [this, dir] { openModel(dir); });
    }
    recent_menu_->setEnabled(!recent.isEmpty());
}

void MainWindow::closeEvent(QCloseEvent* event) {
    if (!monitor_->confirmClose()) {
        event->ignore();
        return;
    }
    QSettings settings;
    settings.setValue("window/geometry", saveGeometry());
    settings.setValue("window/page", sidebar_->currentRow());
    event->accept();
}

void MainWindow::changeEvent(QEvent* event) {
    // The system switched between light and dark: the page list's colours come from the palette.
    if (event->type() == QEvent::PaletteChange || event->type() == QEvent::ApplicationPaletteChange) styleSidebar();
    QMainWindow::changeEvent(event);
}

void MainWindow::styleSidebar() {
    // A shade off the window colour, darker in a light theme and lighter in a dark one.
    QColor window = palette().color(QPalette::Window);
    QPalette p = sidebar_->palette();
    p.setColor(QPalette::Base, window.lightness() > 128 ? window.darker(108) : window.lighter(130));
    sidebar_->setPalette(p);
    QFont f = sidebar_->font();
    f.setPointSizeF(QApplication::font().pointSizeF() * 1.15);
    sidebar_->setFont(f);
    sidebar_->setSpacing(3);
}
