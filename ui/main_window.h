// Lathe Studio's main window: open a model folder and see what it is.
#pragma once

#include <QMainWindow>
#include <QStringList>

class QLabel;
class QStackedWidget;
class ModelSummaryView;
class MonitorPage;
class QTabWidget;
class TrainPage;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
    // Shows the model in `dir`; on a bad folder shows why and keeps the previous model. Returns success.
    bool openModel(const QString& dir);
    TrainPage* trainPage() const { return train_; }
    MonitorPage* monitorPage() const { return monitor_; }

protected:
    // With a run in progress, asks whether to stop it with a checkpoint or leave it running.
    void closeEvent(QCloseEvent* event) override;

private:
    void chooseModel();
    void rememberRecent(const QString& dir);
    void rebuildRecentMenu();

    QStackedWidget* stack_;
    QLabel* empty_;
    ModelSummaryView* summary_;
    QMenu* recent_menu_;
    QStringList recent_;
    QTabWidget* tabs_;
    TrainPage* train_;
    MonitorPage* monitor_;
};
