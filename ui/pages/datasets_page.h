// The Datasets page: open a dataset file (dialog or drag-and-drop) and look inside before training on
// it — its rows in a table that pages through a million rows, the selected row rendered through the
// chosen model's chat template with the tokens that are not trained shaded (a preference pair's chosen and
// rejected sides next to each other, their prompts shaded), the token-length
// histogram, duplicates, every unusable row with its line (click one to jump to the row), and, when eval
// sets or lm-evaluation-harness tasks are given, the rows that contain their items (ContaminationView).
//
// Indexing the file runs on a worker thread (lathe_data); the inspection (types, duplicates, token
// lengths, problems) runs in a `lathe data inspect --json` child process, which Cancel kills.
#pragma once

#include <QElapsedTimer>
#include <QFutureWatcher>
#include <QJsonObject>
#include <QList>
#include <QPair>
#include <QWidget>
#include <memory>

namespace lathe {
class TextTokenizer;
}
namespace lathe::data {
class DatasetFile;
struct RawRow;
}

class ContaminationView;
class DatasetTableModel;
class QComboBox;
class QCustomPlot;
class QLabel;
class QListWidget;
class QProcess;
class QProgressBar;
class QPushButton;
class QTableView;
class QTextBrowser;
class QTimer;

class DatasetsPage : public QWidget {
    Q_OBJECT
public:
    explicit DatasetsPage(QWidget* parent = nullptr);
    ~DatasetsPage() override;

    // Opens `path`: indexes its rows for the table and starts the inspection. False when it is not a
    // readable file (the reason is shown).
    bool openFile(const QString& path);
    void chooseFile();  // the file dialog
    QString currentFile() const { return path_; }

    // The model whose tokenizer and chat template render rows and count tokens ("" = none).
    void setModel(const QString& dir);
    QString model() const { return model_dir_; }
    void setRecentModels(const QStringList& dirs);

    // Kills the running inspection (nothing of it is shown).
    void cancelInspection();
    bool isInspecting() const;
    bool isIndexing() const;

    DatasetTableModel* tableModel() const { return table_model_; }
    QTableView* table() const { return table_; }
    ContaminationView* contaminationView() const { return contamination_; }
    void selectRow(int row);
    // The row (table index) showing file line `line`; -1 when none.
    int rowForLine(qint64 line) const;

    // What the inspection reported (the JSON `lathe data inspect --json` printed; empty until done).
    QJsonObject report() const { return report_; }
    QString statusText() const;
    // The selected row as rendered: (text, trained) in order. Empty when nothing is rendered. For a
    // preference pair, its chosen side; rejectedSpans() is the other (empty for any other row).
    QList<QPair<QString, bool>> renderedSpans() const { return spans_; }
    QList<QPair<QString, bool>> rejectedSpans() const { return rejected_spans_; }
    QString renderMessage() const;
    int histogramBars() const;

signals:
    // "Train on this": the Train page's dataset becomes this file.
    void trainRequested(const QString& path);
    void statusMessage(const QString& text);

protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    struct Indexed {
        std::shared_ptr<const lathe::data::DatasetFile> file;
        QString error;
    };
    struct LoadedTokenizer {
        std::shared_ptr<const lathe::TextTokenizer> tokenizer;
        QString error;
    };
    void startInspection();
    void inspectionFinished();
    void showReport();
    void renderSelected();
    void renderPair(const lathe::data::RawRow& raw, const QString& json);
    QString shadedHtml(const QList<QPair<QString, bool>>& spans) const;
    void setBusy(const QString& what);

    QString path_;
    QString model_dir_;
    QJsonObject report_;
    QList<QPair<QString, bool>> spans_, rejected_spans_;
    std::shared_ptr<const lathe::TextTokenizer> tokenizer_;
    QFutureWatcher<Indexed> index_watcher_;
    QFutureWatcher<LoadedTokenizer> tokenizer_watcher_;
    QProcess* inspect_ = nullptr;
    QElapsedTimer inspect_clock_;
    QTimer* inspect_tick_;  // the seconds the inspection has taken, beside the busy bar
    QByteArray inspect_out_, inspect_err_;

    QLabel* file_label_;
    QComboBox* model_picker_;
    QPushButton* train_;
    QProgressBar* progress_;
    QLabel* progress_label_;
    QPushButton* cancel_;
    QLabel* summary_;
    QTableView* table_;
    DatasetTableModel* table_model_;
    QLabel* table_message_;
    QTextBrowser* rendered_;
    QLabel* render_info_;
    QCustomPlot* histogram_;
    QLabel* histogram_message_;
    QListWidget* duplicates_;
    QListWidget* problems_;
    ContaminationView* contamination_;
};
