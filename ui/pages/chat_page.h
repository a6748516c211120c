// The Chat page: one prompt, two answers side by side — the base model's and the model with a
// checkpoint's adapter (from a run in the run store, or any PEFT adapter folder) — streamed as they
// are generated, each in its own `lathe generate` child process, with every sampling setting.
#pragma once

#include <QString>
#include <QStringList>
#include <QWidget>

#include "ui/generate_process.h"

namespace lathe {
class RunReader;
}

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;

class ChatPage : public QWidget {
    Q_OBJECT
public:
    // Offers the checkpoints of the runs in `runs` that trained the chosen model.
    explicit ChatPage(const lathe::RunReader& runs, QWidget* parent = nullptr);

    void setModel(const QString& dir);
    QString model() const;
    // A checkpoint or PEFT adapter folder for the right column; empty: base model only.
    void setAdapter(const QString& dir);
    QString adapter() const;
    void setRecentModels(const QStringList& dirs);
    // Re-reads the runs' checkpoints (call it when the run store changes).
    void refreshCheckpoints();

    GenerateRequest request() const;  // the prompt and sampling settings as set
    void generate();
    void stop();
    bool isGenerating() const;

signals:
    void statusMessage(const QString& text);

private:
    struct Column {
        GenerateProcess* process;
        QPlainTextEdit* output;
        QLabel* status;
    };
    Column makeColumn(const QString& title, QWidget* parent, QWidget** box);
    void connectColumn(Column& column);
    void updateButtons();
    void chooseModel();
    void chooseAdapter();

    const lathe::RunReader& runs_;
    QStringList chosen_adapters_;  // adapter folders picked by hand (Browse, setAdapter)
    QComboBox* model_;
    QComboBox* adapter_;
    QPlainTextEdit* prompt_;
    QCheckBox* chat_;
    QDoubleSpinBox* temperature_;
    QSpinBox* top_k_;
    QDoubleSpinBox* top_p_;
    QSpinBox* max_new_tokens_;
    QDoubleSpinBox* repetition_penalty_;
    QCheckBox* greedy_;
    QSpinBox* seed_;
    QPushButton* generate_;
    QPushButton* stop_;
    Column base_;
    Column tuned_;
};
