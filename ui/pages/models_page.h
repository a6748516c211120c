// The Models page: open a model folder (dialog, drag-and-drop, the Hugging Face cache, recent models),
// see what it is, and try it with a prompt (generation runs in a `lathe generate` child process).
#pragma once

#include <QFutureWatcher>
#include <QStringList>
#include <QWidget>

#include "ui/tokenizer_facts.h"

class GenerateProcess;
class ModelSummaryView;
class QCheckBox;
class QLabel;
class QLineEdit;
class QListWidget;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;
class QStackedWidget;

class ModelsPage : public QWidget {
    Q_OBJECT
public:
    explicit ModelsPage(QWidget* parent = nullptr);

    // Shows the model in `dir`; on a bad folder shows why and keeps the previous model.
    bool openModel(const QString& dir);
    void chooseModel();  // the folder dialog
    QString currentModel() const { return current_; }
    QStringList recentModels() const { return recent_; }
    // Scans a hub cache folder (HF_HUB_CACHE layout) into the list; the default is huggingFaceHubCache().
    void scanHubCache(const QString& hub);

    // Try it: the prompt box's generation.
    void startTryIt();
    void stopTryIt();

signals:
    void modelOpened(const QString& dir);
    void recentModelsChanged(const QStringList& recent);
    void statusMessage(const QString& text);

protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    void rememberRecent(const QString& dir);
    void fillRecentList();
    void setGenerating(bool on);

    QString current_;
    QStringList recent_;
    QListWidget* hub_list_;
    QLabel* hub_label_;
    QListWidget* recent_list_;
    QStackedWidget* view_stack_;
    QWidget* empty_;
    QWidget* details_;
    ModelSummaryView* summary_;
    QFutureWatcher<TokenizerFacts> tokenizer_watcher_;

    QLineEdit* prompt_;
    QCheckBox* use_chat_;
    QSpinBox* max_tokens_;
    QPushButton* generate_;
    QPushButton* stop_;
    QPlainTextEdit* output_;
    QLabel* try_status_;
    GenerateProcess* process_;
};
