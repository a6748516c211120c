// Lathe Studio's main window: open a model folder and see what it is.
#pragma once

#include <QMainWindow>
#include <QStringList>

class QLabel;
class QStackedWidget;
class ModelSummaryView;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
    // Shows the model in `dir`; on a bad folder shows why and keeps the previous model. Returns success.
    bool openModel(const QString& dir);

private:
    void chooseModel();
    void rememberRecent(const QString& dir);
    void rebuildRecentMenu();

    QStackedWidget* stack_;
    QLabel* empty_;
    ModelSummaryView* summary_;
    QMenu* recent_menu_;
    QStringList recent_;
};
