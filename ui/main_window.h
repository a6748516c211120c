// Lathe Studio's main window: a page list on the left switching the pages in a stack, menus with the
// common actions' shortcuts, a status bar; the window's layout and the pages' settings persist.
#pragma once

#include <QMainWindow>
#include <QStringList>

class ChatPage;
class DatasetsPage;
class EvaluatePage;
class MergePage;
class ExportWizard;
class ModelsPage;
class MonitorPage;
class QListWidget;
class QMenu;
class QStackedWidget;
class RunsPage;
class StudioRunStore;
class TrainPage;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    // The one place pages are registered: appends `page` to the stack (the window takes ownership)
    // and `title` to the page list and the View menu, where Ctrl+<position> shows it (first 9 pages).
    // Returns the page's index.
    int addPage(const QString& title, QWidget* page);
    void showPage(QWidget* page);
    QWidget* currentPage() const;

    // Opens a model folder on the Models page (and offers it to Chat); false with a message when bad.
    bool openModel(const QString& dir);

    ModelsPage* modelsPage() const { return models_; }
    RunsPage* runsPage() const { return runs_; }
    ChatPage* chatPage() const { return chat_; }
    TrainPage* trainPage() const { return train_; }
    MonitorPage* monitorPage() const { return monitor_; }
    DatasetsPage* datasetsPage() const { return datasets_; }
    EvaluatePage* evaluatePage() const { return evaluate_; }
    MergePage* mergePage() const { return merge_; }
    // The one connection to the run store; the pages read through it.
    StudioRunStore* runStore() const { return store_; }

    // The export wizard for `runId` (0: the newest run), from the run store; non-modal, deleted
    // when closed.
    ExportWizard* openExportWizard(qint64 runId = 0);

protected:
    // With a run in progress, asks whether to stop it with a checkpoint or leave it running.
    void closeEvent(QCloseEvent* event) override;
    void changeEvent(QEvent* event) override;

private:
    void rebuildRecentMenu(const QStringList& recent);
    void styleSidebar();

    QListWidget* sidebar_;
    QStackedWidget* stack_;
    QMenu* view_menu_;
    QMenu* recent_menu_;
    StudioRunStore* store_;  // read by the pages and wizards, so deleted after them
    ModelsPage* models_;
    RunsPage* runs_;
    ChatPage* chat_;
    TrainPage* train_;
    MonitorPage* monitor_;
    DatasetsPage* datasets_;
    EvaluatePage* evaluate_;
    MergePage* merge_;
};
