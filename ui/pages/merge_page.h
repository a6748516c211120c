// The Merge page: a mergekit recipe made by picking models (folders, recent models, checkpoints of the
// run store's runs), a method and its per-model weights, density and gamma — or a named recipe such as
// residual transfer ("chat vector": target + alpha · (finetuned − base)) — with the recipe shown as it
// will be written, an estimate of the merge's memory, disk and time, and the merge run by a `lathe merge`
// child process whose JSON-lines progress drives the bar (docs/merge.md). The merged folder opens on the
// Models page.
#pragma once

#include <QByteArray>
#include <QElapsedTimer>
#include <QStringList>
#include <QWidget>

#include "ui/merge_recipe.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QGroupBox;
class QJsonObject;
class QLabel;
class QLineEdit;
class QListWidget;
class QPlainTextEdit;
class QProcess;
class QProgressBar;
class QPushButton;
class QTableWidget;
class QTemporaryDir;
namespace lathe {
class RunReader;
}

class MergePage : public QWidget {
    Q_OBJECT
public:
    enum Recipe { CustomRecipe = 0, ChatVectorRecipe = 1, GreedySoupRecipe = 2 };

    // Runs are read from `store` (which must outlive the page).
    explicit MergePage(const lathe::RunReader& store, QWidget* parent = nullptr);
    ~MergePage() override;

    void setRecipeKind(Recipe kind);
    Recipe recipeKind() const;
    // Custom recipes.
    void setMethod(const QString& method);
    QString method() const;
    void setBaseModel(const QString& reference);
    void addInput(const QString& reference, double weight = 1.0, double density = 1.0, double gamma = 0.01);
    void clearInputs();
    int inputCount() const;
    // Whether the inputs table shows the column ("Weight", "Density", "Gamma") for the chosen method.
    bool columnShown(const QString& title) const;
    // Residual transfer.
    void setChatVector(const QString& target, const QString& finetuned, const QString& base, double alpha);

    // Greedy soup (`lathe soup`): ingredients, the held-out file, and after the run one row per ingredient
    // in the order tried: input, held-out loss, decision ("kept" / "left out"), the soup's loss with it.
    void addIngredient(const QString& reference);
    void setHeldOut(const QString& file);
    QStringList soupArguments() const;
    int soupResultRows() const;
    QStringList soupResultRow(int row) const;
    QString soupSummary() const { return soup_summary_; }

    void setDtype(const QString& dtype);  // "" = as stored
    void setOutputDir(const QString& dir);
    QString outputDir() const;

    // The recipe the choices make, as `lathe merge` will read it (for a greedy soup: the command).
    MergeRecipe recipe() const;
    QString recipeText() const;
    // What the page offers in its model pickers: recent folders and run:ID[:STEP] references.
    QStringList modelChoices() const;
    QString estimateText() const;

    bool isRunning() const;
    double progressFraction() const;
    QString mergedPath() const { return merged_path_; }
    QString errorText() const { return error_; }

public slots:
    void setRecentModels(const QStringList& dirs);
    // Reads the run store's runs and checkpoints into the pickers again.
    void refreshRuns();
    void start();
    void stop();

signals:
    // The merge finished and wrote `dir`.
    void merged(const QString& dir);
    void finished();
    void statusMessage(const QString& text);

private:
    QComboBox* makePicker(const QString& objectName);
    void fillPicker(QComboBox* picker);
    static QString referenceOf(const QComboBox* picker);
    void methodChanged();
    void showForm(int index);
    void updateRecipe();
    void updateEstimate();
    void readOutput();
    void readErrors();
    void soupEvent(const QString& event, const QJsonObject& e);
    void processFinished();
    // A folder with the inputs' tensors, for the estimate: the first folder input, else a run's base model.
    QString shapeFolder(const QStringList& references, int* prepared) const;

    const lathe::RunReader& store_;
    QStringList recent_;
    QStringList run_refs_, run_labels_;
    QList<QComboBox*> pickers_;

    QComboBox* recipe_kind_;
    QWidget* forms_;
    QList<QWidget*> form_pages_;  // by Recipe
    QComboBox* method_;
    QComboBox* base_;
    QTableWidget* inputs_;
    QComboBox* add_picker_;
    QDoubleSpinBox* t_;
    QCheckBox* normalize_;
    QComboBox* cv_target_;
    QComboBox* cv_finetuned_;
    QComboBox* cv_base_;
    QDoubleSpinBox* alpha_;
    QListWidget* ingredients_;
    QComboBox* soup_picker_;
    QLineEdit* held_out_;
    QTableWidget* soup_results_;
    QString soup_summary_;
    QComboBox* dtype_;
    QLineEdit* output_;
    QPlainTextEdit* preview_;
    QGroupBox* preview_box_;
    QLabel* estimate_;
    QPushButton* start_;
    QPushButton* stop_;
    QProgressBar* bar_;
    QLabel* status_;
    QPlainTextEdit* log_;

    QProcess* process_ = nullptr;
    QTemporaryDir* recipe_dir_ = nullptr;
    QByteArray pending_;
    QByteArray stderr_;
    QElapsedTimer clock_;
    qint64 done_bytes_ = 0;
    QString merged_path_;
    QString error_;
    bool stopping_ = false;
};
