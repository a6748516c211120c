// The export wizard: run and checkpoint → format (merged Hugging Face model, PEFT adapter, GGUF when
// this `lathe` can write it) → options → progress → where it went and how to load it. The export runs
// in a `lathe export` child process (docs/export.md); its JSON-lines progress drives the bar. Cancel
// sends SIGTERM, on which `lathe export` removes its staging folder, so nothing half-written remains.
// By default the export is then checked against the trained model (`--verify`, docs/export.md) and the
// result page shows how closely it agrees, with a warning where it does not.
#pragma once

#include <QStringList>
#include <QWizard>

class QButtonGroup;
class QCheckBox;
class QComboBox;
class QJsonObject;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QProcess;
class QProgressBar;
class QPushButton;
class QRadioButton;
namespace lathe {
class RunReader;
}

class ExportWizard : public QWizard {
    Q_OBJECT
public:
    enum PageId { RunPage, FormatPage, OptionsPage, ProgressPage, ResultPage };

    // Runs from `store` (which must outlive the wizard); `runId` (0: the newest) is preselected.
    explicit ExportWizard(const lathe::RunReader& store, qint64 runId = 0, QWidget* parent = nullptr);
    ~ExportWizard() override;

    // The choices, as the pages hold them.
    qint64 runId() const;
    QString checkpoint() const;  // "latest" or a step
    QString format() const;      // merged, peft, gguf
    QString outputDir() const;
    void setOutputDir(const QString& dir);
    void setFormat(const QString& format);
    bool ggufOffered() const;
    // The `lathe export` arguments the choices make.
    QStringList exportArguments() const;

    bool isExporting() const;
    // Set once the export finished: the folder written, or why not.
    QString exportedPath() const { return exported_path_; }
    QString errorText() const { return error_; }
    double progressFraction() const;
    QString usageText() const;
    // With "Check the export" (on by default: `lathe export --verify`): the check's figures as shown on the
    // result page, and whether it warned (agreement below what the format keeps, another tokenizer, chat
    // template or EOS) or could not run. Empty before the check reported.
    QString checkText() const { return check_text_; }
    bool checkWarned() const { return check_warned_; }

    void reject() override;

signals:
    void exported(const QString& path);

private:
    friend class ExportProgressPage;
    void fillRuns(qint64 select);
    void fillCheckpoints();
    void readHelp();
    void startExport();
    void cancelExport();
    void readProgress();
    void exportFinished();
    QString checkSummary(const QJsonObject& e) const;

    const lathe::RunReader& store_;
    QString store_path_;  // its file, for `lathe export --store`
    QProcess* help_ = nullptr;
    QStringList quant_types_;
    QString quant_flag_;
    bool gguf_ = false;

    QProcess* process_ = nullptr;
    QByteArray pending_;
    QString exported_path_, error_;
    QString check_text_;
    bool check_warned_ = false;
    bool cancelled_ = false;

    QComboBox* runs_;
    QComboBox* checkpoints_;
    QLabel* run_info_;
    QRadioButton* merged_;
    QRadioButton* peft_;
    QRadioButton* gguf_button_;
    QComboBox* quant_;
    QWidget* quant_row_;
    QLabel* format_note_;
    QLineEdit* output_;
    QComboBox* dtype_;
    QLineEdit* shard_;
    QCheckBox* force_;
    QCheckBox* verify_;
    QLabel* options_error_;
    QProgressBar* bar_;
    QLabel* progress_what_;
    QPlainTextEdit* log_;
    QPushButton* cancel_export_;
    QLabel* result_title_;
    QLabel* check_;
    QPlainTextEdit* usage_;
};
