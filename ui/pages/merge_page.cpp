#include "ui/pages/merge_page.h"

#include "ui/process_log.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFile>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QLocale>
#include <QPlainTextEdit>
#include <QProcess>
#include <QProgressBar>
#include <QSignalBlocker>
#include <QPushButton>
#include <QSettings>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTextCursor>
#include <QVBoxLayout>

#include <algorithm>

#include "core/runs/run_reader.h"
#include "ui/lathe_cli.h"

namespace {

enum Column { ModelColumn = 0, WeightColumn, DensityColumn, GammaColumn };
const char* kColumnTitles[] = {"Model", "Weight", "Density", "Gamma"};

// Until a merge on this machine has measured it: a plain SSD's sustained read and write.
constexpr double kDefaultBytesPerSecond = 200e6;
// A merge that reads and writes less than this measures the process start more than the disk.
constexpr double kMinMeasuredBytes = 200e6;

QString q(const std::string& s) { return QString::fromStdString(s); }

QDoubleSpinBox* makeSpin(double min, double max, double value, double step, QWidget* parent) {
    auto* s = new QDoubleSpinBox(parent);
    s->setRange(min, max);
    s->setDecimals(3);
    s->setSingleStep(step);
    s->setValue(value);
    return s;
}

}  // namespace

MergePage::MergePage(const lathe::RunReader& store, QWidget* parent) : QWidget(parent), store_(store) {
    auto* layout = new QVBoxLayout(this);
    auto* title = new QLabel(tr("<h2>Merge models</h2>Combine finetunes of one base model into one, as mergekit does, without "
                                "training. Inputs are model folders or checkpoints of your runs."),
                             this);
    title->setWordWrap(true);
    layout->addWidget(title);

    auto* top = new QFormLayout;
    recipe_kind_ = new QComboBox(this);
    recipe_kind_->setObjectName("recipeKind");
    recipe_kind_->addItem(tr("Custom merge (choose the method)"));
    recipe_kind_->addItem(tr("Residual transfer (\"chat vector\"): target + α · (finetuned − base)"));
    recipe_kind_->addItem(tr("Greedy soup: average the finetunes that lower the held-out loss"));
    top->addRow(tr("Recipe:"), recipe_kind_);
    layout->addLayout(top);

    // One form per recipe kind; only the chosen one is shown (a hidden form takes no height).
    forms_ = new QWidget(this);
    auto* formsLayout = new QVBoxLayout(forms_);
    formsLayout->setContentsMargins(0, 0, 0, 0);
    // Custom: method, base, inputs with their parameters.
    auto* custom = new QWidget(forms_);
    auto* cl = new QFormLayout(custom);
    cl->setContentsMargins(0, 0, 0, 0);
    method_ = new QComboBox(custom);
    method_->setObjectName("method");
    method_->addItems(mergeMethods());
    cl->addRow(tr("Method:"), method_);
    base_ = makePicker("baseModel");
    cl->addRow(tr("Base model:"), base_->parentWidget());
    inputs_ = new QTableWidget(0, 4, custom);
    inputs_->setObjectName("inputs");
    inputs_->setHorizontalHeaderLabels({tr(kColumnTitles[0]), tr(kColumnTitles[1]), tr(kColumnTitles[2]), tr(kColumnTitles[3])});
    inputs_->horizontalHeader()->setSectionResizeMode(ModelColumn, QHeaderView::Stretch);
    inputs_->verticalHeader()->hide();
    inputs_->setSelectionBehavior(QAbstractItemView::SelectRows);
    inputs_->setMinimumHeight(140);
    cl->addRow(tr("Models:"), inputs_);
    add_picker_ = makePicker("addModel");
    auto* addRow = new QHBoxLayout;
    addRow->addWidget(add_picker_->parentWidget(), 1);
    auto* add = new QPushButton(tr("Add"), custom);
    auto* remove = new QPushButton(tr("Remove selected"), custom);
    addRow->addWidget(add);
    addRow->addWidget(remove);
    cl->addRow(QString(), addRow);
    t_ = makeSpin(0, 1, 0.5, 0.05, custom);
    t_->setObjectName("t");
    cl->addRow(tr("Interpolation t (0 = base):"), t_);
    normalize_ = new QCheckBox(tr("Divide by the sum of the weights (normalize)"), custom);
    cl->addRow(QString(), normalize_);
    formsLayout->addWidget(custom);
    form_pages_ << custom;

    // Residual transfer.
    auto* cv = new QWidget(forms_);
    auto* vl = new QFormLayout(cv);
    vl->setContentsMargins(0, 0, 0, 0);
    auto* cvHelp = new QLabel(tr("Gives the target the skills the finetuned model learned from the same base, e.g. a "
                                 "continued-pretraining run the chat skills of the base's instruct model, with no instruction data."),
                              cv);
    cvHelp->setWordWrap(true);
    vl->addRow(cvHelp);
    cv_target_ = makePicker("cvTarget");
    vl->addRow(tr("Target:"), cv_target_->parentWidget());
    cv_finetuned_ = makePicker("cvFinetuned");
    vl->addRow(tr("Finetuned (skills from):"), cv_finetuned_->parentWidget());
    cv_base_ = makePicker("cvBase");
    vl->addRow(tr("Base both came from:"), cv_base_->parentWidget());
    alpha_ = makeSpin(-4, 4, 0.5, 0.1, cv);
    alpha_->setObjectName("alpha");
    vl->addRow(tr("α:"), alpha_);
    formsLayout->addWidget(cv);
    form_pages_ << cv;

    // Greedy soup (`lathe soup`).
    auto* soup = new QWidget(forms_);
    auto* sl = new QFormLayout(soup);
    sl->setContentsMargins(0, 0, 0, 0);
    auto* soupHelp = new QLabel(tr("Runs and checkpoints of one base are tried best first by their loss on held-out data; each joins "
                                   "the average when the loss does not rise. The uniform average of all is measured beside it."),
                                soup);
    soupHelp->setWordWrap(true);
    sl->addRow(soupHelp);
    ingredients_ = new QListWidget(soup);
    ingredients_->setObjectName("ingredients");
    ingredients_->setMaximumHeight(110);
    sl->addRow(tr("Ingredients:"), ingredients_);
    soup_picker_ = makePicker("addIngredient");
    auto* soupAddRow = new QHBoxLayout;
    soupAddRow->addWidget(soup_picker_->parentWidget(), 1);
    auto* soupAdd = new QPushButton(tr("Add"), soup);
    auto* soupRemove = new QPushButton(tr("Remove selected"), soup);
    soupAddRow->addWidget(soupAdd);
    soupAddRow->addWidget(soupRemove);
    sl->addRow(QString(), soupAddRow);
    held_out_ = new QLineEdit(soup);
    held_out_->setObjectName("heldOut");
    held_out_->setPlaceholderText(tr("JSONL, JSON, CSV or text, as a run's datasets"));
    auto* heldRow = new QHBoxLayout;
    heldRow->addWidget(held_out_, 1);
    auto* heldBrowse = new QPushButton(tr("File…"), soup);
    heldRow->addWidget(heldBrowse);
    sl->addRow(tr("Held-out data:"), heldRow);
    soup_results_ = new QTableWidget(0, 4, soup);
    soup_results_->setObjectName("soupResults");
    soup_results_->setHorizontalHeaderLabels({tr("Ingredient (best first)"), tr("Held-out loss"), tr("Decision"), tr("Soup loss with it")});
    soup_results_->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
    soup_results_->verticalHeader()->hide();
    soup_results_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    soup_results_->setMinimumHeight(120);
    sl->addRow(tr("Result:"), soup_results_);
    formsLayout->addWidget(soup);
    form_pages_ << soup;
    connect(soupAdd, &QPushButton::clicked, this, [this] {
        const QString ref = referenceOf(soup_picker_);
        if (!ref.isEmpty()) addIngredient(ref);
    });
    connect(soupRemove, &QPushButton::clicked, this, [this] {
        qDeleteAll(ingredients_->selectedItems());
        updateRecipe();
    });
    connect(held_out_, &QLineEdit::textChanged, this, &MergePage::updateRecipe);
    connect(heldBrowse, &QPushButton::clicked, this, [this] {
        const QString file = QFileDialog::getOpenFileName(this, tr("Held-out data"), held_out_->text());
        if (!file.isEmpty()) held_out_->setText(file);
    });
    layout->addWidget(forms_);

    auto* bottom = new QFormLayout;
    dtype_ = new QComboBox(this);
    dtype_->setObjectName("dtype");
    dtype_->addItem(tr("as stored"), QString());
    for (const char* d : {"float32", "bfloat16", "float16"}) dtype_->addItem(d, QString(d));
    bottom->addRow(tr("Merge in:"), dtype_);
    output_ = new QLineEdit(this);
    output_->setObjectName("output");
    auto* outRow = new QHBoxLayout;
    outRow->addWidget(output_, 1);
    auto* browseOut = new QPushButton(tr("…"), this);
    outRow->addWidget(browseOut);
    bottom->addRow(tr("Output folder:"), outRow);
    estimate_ = new QLabel(this);
    estimate_->setObjectName("estimate");
    estimate_->setWordWrap(true);
    bottom->addRow(tr("Estimate:"), estimate_);
    layout->addLayout(bottom);

    preview_ = new QPlainTextEdit(this);
    preview_->setObjectName("recipePreview");
    preview_->setReadOnly(true);
    preview_->setMinimumHeight(90);
    QFont mono("monospace");
    mono.setStyleHint(QFont::Monospace);
    preview_->setFont(mono);
    preview_box_ = new QGroupBox(this);
    (new QVBoxLayout(preview_box_))->addWidget(preview_);
    layout->addWidget(preview_box_, 1);  // the spare height goes to the recipe

    auto* run = new QHBoxLayout;
    start_ = new QPushButton(tr("Merge"), this);
    start_->setObjectName("startMerge");
    stop_ = new QPushButton(tr("Stop"), this);
    stop_->setEnabled(false);
    bar_ = new QProgressBar(this);
    bar_->setRange(0, 1000);
    bar_->setValue(0);
    run->addWidget(start_);
    run->addWidget(stop_);
    run->addWidget(bar_, 1);
    layout->addLayout(run);
    status_ = new QLabel(this);
    status_->setObjectName("mergeStatus");
    status_->setWordWrap(true);
    layout->addWidget(status_);
    log_ = new QPlainTextEdit(this);
    log_->setObjectName("mergeLog");
    log_->setReadOnly(true);
    log_->setMaximumHeight(80);
    layout->addWidget(log_);

    connect(recipe_kind_, &QComboBox::currentIndexChanged, this, [this](int i) {
        showForm(i);
        updateRecipe();
    });
    connect(method_, &QComboBox::currentIndexChanged, this, &MergePage::methodChanged);
    connect(add, &QPushButton::clicked, this, [this] {
        const QString ref = referenceOf(add_picker_);
        if (!ref.isEmpty()) addInput(ref);
    });
    connect(remove, &QPushButton::clicked, this, [this] {
        const auto rows = inputs_->selectionModel()->selectedRows();
        for (auto it = rows.rbegin(); it != rows.rend(); ++it) inputs_->removeRow(it->row());
        updateRecipe();
    });
    connect(inputs_, &QTableWidget::itemChanged, this, &MergePage::updateRecipe);
    connect(t_, &QDoubleSpinBox::valueChanged, this, &MergePage::updateRecipe);
    connect(normalize_, &QCheckBox::toggled, this, &MergePage::updateRecipe);
    connect(alpha_, &QDoubleSpinBox::valueChanged, this, &MergePage::updateRecipe);
    connect(dtype_, &QComboBox::currentIndexChanged, this, &MergePage::updateRecipe);
    connect(output_, &QLineEdit::textChanged, this, &MergePage::updateRecipe);
    connect(browseOut, &QPushButton::clicked, this, [this] {
        const QString dir = QFileDialog::getSaveFileName(this, tr("Merged model folder"), output_->text());
        if (!dir.isEmpty()) output_->setText(dir);
    });
    connect(start_, &QPushButton::clicked, this, &MergePage::start);
    connect(stop_, &QPushButton::clicked, this, &MergePage::stop);

    refreshRuns();
    showForm(CustomRecipe);
    methodChanged();
}

void MergePage::showForm(int index) {
    for (int i = 0; i < form_pages_.size(); ++i) form_pages_[i]->setVisible(i == index);
    preview_box_->setTitle(index == GreedySoupRecipe ? tr("Command (the greedy soup's own recipe is kept in the output as mergekit_config.yml)")
                                                     : tr("Recipe (mergekit's format; kept in the output as mergekit_config.yml)"));
}

MergePage::~MergePage() {
    if (process_) {
        process_->disconnect(this);
        process_->kill();
        process_->waitForFinished(2000);
    }
    delete recipe_dir_;
}

// An editable picker of model references with a folder button beside it, in a row widget of its own.
QComboBox* MergePage::makePicker(const QString& objectName) {
    auto* row = new QWidget(this);
    auto* l = new QHBoxLayout(row);
    l->setContentsMargins(0, 0, 0, 0);
    auto* picker = new QComboBox(row);
    picker->setObjectName(objectName);
    picker->setEditable(true);
    picker->setInsertPolicy(QComboBox::NoInsert);
    picker->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    auto* browse = new QPushButton(tr("Folder…"), row);
    l->addWidget(picker, 1);
    l->addWidget(browse);
    connect(browse, &QPushButton::clicked, this, [this, picker] {
        const QString dir = QFileDialog::getExistingDirectory(this, tr("Model folder"), referenceOf(picker));
        if (!dir.isEmpty()) picker->setEditText(dir);
    });
    connect(picker, &QComboBox::currentTextChanged, this, &MergePage::updateRecipe);
    pickers_ << picker;
    fillPicker(picker);
    return picker;
}

void MergePage::fillPicker(QComboBox* picker) {
    const QString keep = picker->currentText();
    QSignalBlocker block(picker);
    picker->clear();
    for (const QString& dir : recent_) picker->addItem(dir, dir);
    for (int i = 0; i < run_refs_.size(); ++i) picker->addItem(run_labels_[i], run_refs_[i]);
    picker->setEditText(keep);
}

// The item's reference when the text is one of the offered items, else the text as typed.
QString MergePage::referenceOf(const QComboBox* picker) {
    const QString text = picker->currentText().trimmed();
    const int i = picker->findText(text);
    return i >= 0 && picker->itemData(i).isValid() ? picker->itemData(i).toString() : text;
}

void MergePage::setRecentModels(const QStringList& dirs) {
    recent_ = dirs;
    for (QComboBox* p : pickers_) fillPicker(p);
}

void MergePage::refreshRuns() {
    run_refs_.clear();
    run_labels_.clear();
    try {
        for (const lathe::RunRecord& r : store_.list_runs()) {
            const auto checkpoints = store_.checkpoints(r.id);
            if (checkpoints.empty()) continue;
            for (auto it = checkpoints.rbegin(); it != checkpoints.rend(); ++it) {
                run_refs_ << QString("run:%1:%2").arg(r.id).arg(it->step);
                run_labels_ << tr("run:%1:%2 — #%1 %3, checkpoint %2").arg(r.id).arg(it->step).arg(q(r.name));
            }
        }
    } catch (const std::exception& e) {
        status_->setText(tr("Could not read the run store: %1").arg(q(e.what())));
    }
    for (QComboBox* p : pickers_) fillPicker(p);
}

QStringList MergePage::modelChoices() const {
    QStringList all = recent_;
    all << run_refs_;
    return all;
}

void MergePage::setRecipeKind(Recipe kind) { recipe_kind_->setCurrentIndex(kind); }
MergePage::Recipe MergePage::recipeKind() const { return static_cast<Recipe>(recipe_kind_->currentIndex()); }
void MergePage::setMethod(const QString& method) { method_->setCurrentText(method); }
QString MergePage::method() const { return method_->currentText(); }
void MergePage::setBaseModel(const QString& reference) { base_->setEditText(reference); }
int MergePage::inputCount() const { return inputs_->rowCount(); }
void MergePage::setDtype(const QString& dtype) { dtype_->setCurrentIndex(std::max(0, dtype_->findData(dtype))); }
void MergePage::setOutputDir(const QString& dir) { output_->setText(dir); }
QString MergePage::outputDir() const { return output_->text().trimmed(); }

void MergePage::addInput(const QString& reference, double weight, double density, double gamma) {
    const int row = inputs_->rowCount();
    QSignalBlocker block(inputs_);
    inputs_->insertRow(row);
    inputs_->setItem(row, ModelColumn, new QTableWidgetItem(reference));
    const double values[] = {weight, density, gamma};
    for (int c = WeightColumn; c <= GammaColumn; ++c) {
        auto* spin = makeSpin(c == WeightColumn ? -10 : 0, c == WeightColumn ? 10 : 1, values[c - WeightColumn], c == GammaColumn ? 0.005 : 0.05, inputs_);
        connect(spin, &QDoubleSpinBox::valueChanged, this, &MergePage::updateRecipe);
        inputs_->setCellWidget(row, c, spin);
    }
    updateRecipe();
}

void MergePage::clearInputs() {
    inputs_->setRowCount(0);
    updateRecipe();
}

bool MergePage::columnShown(const QString& title) const {
    for (int c = 0; c < 4; ++c)
        if (title == kColumnTitles[c]) return !inputs_->isColumnHidden(c);
    return false;
}

void MergePage::setChatVector(const QString& target, const QString& finetuned, const QString& base, double alpha) {
    setRecipeKind(ChatVectorRecipe);
    cv_target_->setEditText(target);
    cv_finetuned_->setEditText(finetuned);
    cv_base_->setEditText(base);
    alpha_->setValue(alpha);
}

// Only the parameters the method takes are offered, with its own defaults.
void MergePage::methodChanged() {
    const QString m = method();
    inputs_->setColumnHidden(WeightColumn, !methodTakes(m, "weight"));
    inputs_->setColumnHidden(DensityColumn, !methodTakes(m, "density"));
    inputs_->setColumnHidden(GammaColumn, !methodTakes(m, "gamma"));
    t_->setEnabled(methodTakes(m, "t"));
    normalize_->setEnabled(methodTakes(m, "normalize"));
    {
        QSignalBlocker block(normalize_);
        normalize_->setChecked(methodNormalizes(m));
    }
    base_->setToolTip(methodNeedsBase(m) ? tr("Required: the model the others were finetuned from")
                                         : tr("Optional for linear: when given, one more input"));
    updateRecipe();
}

MergeRecipe MergePage::recipe() const {
    const QString dtype = dtype_->currentData().toString();
    if (recipeKind() == ChatVectorRecipe)
        return chatVectorRecipe(referenceOf(cv_target_), referenceOf(cv_finetuned_), referenceOf(cv_base_), alpha_->value(), dtype);
    MergeRecipe r;
    r.method = method();
    r.base = referenceOf(base_);
    for (int row = 0; row < inputs_->rowCount(); ++row) {
        auto spin = [&](int c) { return static_cast<QDoubleSpinBox*>(inputs_->cellWidget(row, c))->value(); };
        r.models << MergeInputRow{.model = inputs_->item(row, ModelColumn)->text().trimmed(),
                                  .weight = spin(WeightColumn),
                                  .density = spin(DensityColumn),
                                  .gamma = spin(GammaColumn)};
    }
    r.t = t_->value();
    r.normalize = normalize_->isChecked();
    r.dtype = dtype;
    return r;
}

QString MergePage::recipeText() const {
    if (recipeKind() == GreedySoupRecipe) return "lathe " + soupArguments().join(' ') + "\n";
    return recipeYaml(recipe());
}

void MergePage::addIngredient(const QString& reference) {
    ingredients_->addItem(reference);
    updateRecipe();
}

void MergePage::setHeldOut(const QString& file) { held_out_->setText(file); }

QStringList MergePage::soupArguments() const {
    QStringList args{"soup"};
    for (int i = 0; i < ingredients_->count(); ++i) args << ingredients_->item(i)->text();
    args << "--held-out" << held_out_->text().trimmed() << "--output" << outputDir();
    const QString dtype = dtype_->currentData().toString();
    if (!dtype.isEmpty()) args << "--dtype" << dtype;
    return args;
}

int MergePage::soupResultRows() const { return soup_results_->rowCount(); }

QStringList MergePage::soupResultRow(int row) const {
    QStringList cells;
    for (int c = 0; c < soup_results_->columnCount(); ++c) cells << (soup_results_->item(row, c) ? soup_results_->item(row, c)->text() : QString());
    return cells;
}

void MergePage::updateRecipe() {
    preview_->setPlainText(recipeText());
    updateEstimate();
    if (recipeKind() == GreedySoupRecipe) {
        start_->setEnabled(!isRunning() && ingredients_->count() >= 2 && !held_out_->text().trimmed().isEmpty() && !outputDir().isEmpty());
        return;
    }
    const MergeRecipe r = recipe();
    const bool baseOk = !methodNeedsBase(r.method) || !r.base.isEmpty();
    bool named = !r.models.isEmpty();
    for (const auto& m : r.models) named = named && !m.model.isEmpty();
    start_->setEnabled(!isRunning() && baseOk && named && !outputDir().isEmpty());
}

QString MergePage::shapeFolder(const QStringList& references, int* prepared) const {
    QString folder;
    *prepared = 0;
    for (const QString& ref : references) {
        if (ref.isEmpty()) continue;
        if (!ref.startsWith("run:")) {
            if (folder.isEmpty()) folder = ref;
            continue;
        }
        // run:ID[:STEP]: a LoRA checkpoint is merged into its base first; its base has the merge's shapes.
        const QStringList parts = ref.mid(4).split(':');
        try {
            const auto run = store_.find_run(parts[0].toLongLong());
            if (!run) continue;
            const auto checkpoints = store_.checkpoints(run->id);
            QString dir;
            for (const auto& c : checkpoints)
                if (parts.size() < 2 || QString::number(c.step) == parts[1]) dir = q(c.path);
            if (QFileInfo::exists(dir + "/adapter_config.json")) ++*prepared;
            if (folder.isEmpty()) folder = QFileInfo::exists(dir + "/model.safetensors") ? dir : q(run->model);
        } catch (const std::exception&) {
        }
    }
    return folder;
}

void MergePage::updateEstimate() {
    const MergeRecipe r = recipe();
    // Each listed model is read; the base once more unless it is listed too (then it is that input).
    QStringList refs;
    const bool soup = recipeKind() == GreedySoupRecipe;
    if (soup) {
        for (int i = 0; i < ingredients_->count(); ++i) refs << ingredients_->item(i)->text();
    } else {
        for (const auto& m : r.models) refs << m.model;
        if (!r.base.isEmpty() && !refs.contains(r.base)) refs << r.base;
    }
    int prepared = 0;
    const QString folder = shapeFolder(refs, &prepared);
    if (folder.isEmpty() || refs.isEmpty()) {
        estimate_->setText(tr("Pick the models first."));
        return;
    }
    const QString d = r.dtype;
    const int outBytes = d == "float32" ? 4 : d.isEmpty() ? 0 : 2;
    const double measured = QSettings().value("merge/bytesPerSecond", 0.0).toDouble();
    const double rate = measured > 0 ? measured : kDefaultBytesPerSecond;
    const MergeEstimate e = estimateMerge(folder, static_cast<int>(refs.size()), prepared, outBytes, rate);
    if (!e.error.isEmpty()) {
        estimate_->setText(tr("Cannot read %1: %2").arg(folder, e.error));
        return;
    }
    QString text = tr("%1 inputs of %2 parameters (%3 each). Memory: about %4 (one tensor at a time); writes %5; "
                      "about %6 s at %7/s (%8).")
                       .arg(refs.size())
                       .arg(QLocale().toString(e.parameters))
                       .arg(formatBytes(e.model_bytes), formatBytes(e.peak_bytes), formatBytes(e.output_bytes))
                       .arg(std::max(1.0, e.seconds), 0, 'f', 0)
                       .arg(formatBytes(static_cast<qint64>(rate)))
                       .arg(measured > 0 ? tr("measured by the last merge here") : tr("a typical SSD; the first merge measures this machine"));
    if (soup) {
        // Candidate soups are written beside the output and evaluated memory-mapped: one model at a time.
        const qint64 n = refs.size();
        text = tr("%1 ingredients of %2 parameters (%3 each). Memory: about %4 (one model, evaluated memory-mapped); "
                  "disk: one candidate soup of %5 at a time beside the output. Time: %6 evaluations of the held-out data "
                  "and %7 merges of about %8 s each.")
                   .arg(n)
                   .arg(QLocale().toString(e.parameters))
                   .arg(formatBytes(e.model_bytes), formatBytes(std::max(e.model_bytes, e.peak_bytes)), formatBytes(e.output_bytes))
                   .arg(2 * n)
                   .arg(n + 1)
                   .arg(std::max(1.0, e.seconds), 0, 'f', 0);
    }
    if (prepared > 0) text += " " + tr("%n LoRA checkpoint(s) are merged into their base first, one full model in memory each.", "", prepared);
    estimate_->setText(text);
}

QString MergePage::estimateText() const { return estimate_->text(); }

bool MergePage::isRunning() const { return process_ != nullptr; }
double MergePage::progressFraction() const { return bar_->value() / 1000.0; }

void MergePage::start() {
    if (isRunning()) return;
    error_.clear();
    merged_path_.clear();
    log_->clear();
    const QString cli = latheCliPath();
    if (cli.isEmpty()) {
        error_ = tr("The `lathe` program was not found next to Lathe Studio or on PATH.");
        status_->setText(error_);
        return;
    }
    QStringList args;
    if (recipeKind() == GreedySoupRecipe) {
        args = soupArguments();
        soup_results_->setRowCount(0);
        soup_summary_.clear();
    } else {
        delete recipe_dir_;
        recipe_dir_ = new QTemporaryDir;
        const QString recipePath = recipe_dir_->filePath("merge.yml");
        QFile f(recipePath);
        if (!f.open(QIODevice::WriteOnly) || f.write(recipeText().toUtf8()) < 0) {
            error_ = tr("Could not write the recipe to %1").arg(recipePath);
            status_->setText(error_);
            return;
        }
        f.close();
        args = QStringList{"merge", recipePath, "--output", outputDir()};
    }
    args << "--store" << q(store_.path());
    log_->appendPlainText("$ lathe " + args.join(' ') + "\n");
    stderr_.clear();
    pending_.clear();
    stopping_ = false;
    bar_->setValue(0);
    status_->setText(tr("Starting…"));
    process_ = new QProcess(this);
    connect(process_, &QProcess::readyReadStandardOutput, this, &MergePage::readOutput);
    connect(process_, &QProcess::readyReadStandardError, this, &MergePage::readErrors);
    connect(process_, &QProcess::finished, this, &MergePage::processFinished);
    connect(process_, &QProcess::errorOccurred, this, [this](QProcess::ProcessError e) {
        if (e == QProcess::FailedToStart) processFinished();
    });
    clock_.start();
    process_->start(cli, args);
    start_->setEnabled(false);
    stop_->setEnabled(true);
}

void MergePage::stop() {
    if (!isRunning()) return;
    stopping_ = true;
    process_->terminate();
    if (!process_->waitForFinished(10000)) process_->kill();
}

// stderr goes to the log; `lathe: error: ...` is what the page shows when the merge fails.
void MergePage::readErrors() {
    const QByteArray chunk = process_->readAllStandardError();
    if (chunk.isEmpty()) return;
    stderr_ += chunk;
    appendProcessOutput(log_, chunk);
    // The error and the lines that explain it (a refused merge lists every problem); it may come in pieces.
    const QString text = QString::fromUtf8(stderr_);
    const qsizetype at = text.indexOf("lathe: error: ");
    if (at >= 0) error_ = text.mid(at + 14).trimmed();
}

void MergePage::readOutput() {
    pending_ += process_->readAllStandardOutput();
    for (qsizetype nl; (nl = pending_.indexOf('\n')) >= 0;) {
        const QJsonObject e = QJsonDocument::fromJson(pending_.left(nl)).object();
        pending_.remove(0, nl + 1);
        const QString event = e["event"].toString();
        if (event == "progress") {
            bar_->setValue(static_cast<int>(e["fraction"].toDouble() * 1000));
            status_->setText(e.contains("stage") ? tr("Greedy soup: %1").arg(e["stage"].toString()) : tr("Merging %1").arg(e["tensor"].toString()));
        } else if (event == "done") {
            merged_path_ = e["output"].toString();
            done_bytes_ = e["bytes"].toInteger();
        }
        if (e.contains("stage") || event == "ingredient" || event == "soup_step" || (event == "done" && e.contains("greedy_soup"))) soupEvent(event, e);
    }
}

// `lathe soup`'s events (docs/merge.md): the table fills in as ingredients are measured and tried.
void MergePage::soupEvent(const QString& event, const QJsonObject& e) {
    auto rowOf = [this](const QString& input) {
        for (int r = 0; r < soup_results_->rowCount(); ++r)
            if (soup_results_->item(r, 0)->text() == input) return r;
        const int r = soup_results_->rowCount();
        soup_results_->insertRow(r);
        for (int c = 0; c < soup_results_->columnCount(); ++c) soup_results_->setItem(r, c, new QTableWidgetItem);
        soup_results_->item(r, 0)->setText(input);
        return r;
    };
    auto loss = [](double v) { return QString::number(v, 'f', 4); };
    if (event == "ingredient") {
        soup_results_->item(rowOf(e["input"].toString()), 1)->setText(loss(e["loss"].toDouble()));
    } else if (event == "soup_step") {
        const int r = rowOf(e["input"].toString());
        soup_results_->item(r, 2)->setText(e["kept"].toBool() ? tr("kept") : tr("left out"));
        soup_results_->item(r, 3)->setText(loss(e["soup_loss"].toDouble()));
    } else if (event == "done") {
        // The final order: best first, as tried.
        soup_results_->setRowCount(0);
        for (const QJsonValue& v : e["ingredients"].toArray()) {
            const QJsonObject i = v.toObject();
            const int r = rowOf(i["input"].toString());
            soup_results_->item(r, 1)->setText(loss(i["loss"].toDouble()));
            const bool kept = i["decision"].toString() == "kept";
            soup_results_->item(r, 2)->setText(kept ? tr("kept") : tr("left out"));
            soup_results_->item(r, 3)->setText(i["soup_loss"].isNull() ? tr("— (starts the soup)") : loss(i["soup_loss"].toDouble()));
            if (!kept)
                for (int c = 0; c < soup_results_->columnCount(); ++c) soup_results_->item(r, c)->setForeground(palette().color(QPalette::Disabled, QPalette::Text));
        }
        const QJsonObject greedy = e["greedy_soup"].toObject(), uniform = e["uniform_soup"].toObject();
        soup_summary_ = tr("Greedy soup of %1 of %2: held-out loss %3; uniform soup of all: %4.")
                            .arg(greedy["models"].toArray().size())
                            .arg(uniform["models"].toArray().size())
                            .arg(loss(greedy["loss"].toDouble()), loss(uniform["loss"].toDouble()));
    }
}

void MergePage::processFinished() {
    QProcess* p = process_;
    if (!p) return;
    readOutput();
    readErrors();
    const bool ok = !merged_path_.isEmpty() && p->exitStatus() == QProcess::NormalExit && p->exitCode() == 0;
    if (!ok) merged_path_.clear();
    if (stopping_) {
        status_->setText(tr("Stopped. Nothing was written to %1.").arg(outputDir()));
    } else if (!ok) {
        if (error_.isEmpty()) error_ = p->errorString();
        status_->setText(tr("The merge failed: %1").arg(error_));
    } else {
        bar_->setValue(1000);
        // This machine's rate, for the next estimate: every input read and the output written.
        const double seconds = std::max(0.001, clock_.elapsed() / 1000.0);
        const MergeRecipe r = recipe();
        // Only merges large enough for the disk, not the process start, to dominate.
        const double moved = static_cast<double>(done_bytes_) * static_cast<double>(r.models.size() + 2);
        if (moved >= kMinMeasuredBytes && recipeKind() != GreedySoupRecipe) QSettings().setValue("merge/bytesPerSecond", moved / seconds);
        status_->setText((soup_summary_.isEmpty() ? QString() : soup_summary_ + " ") + tr("Done: %1 (opened on the Models page)").arg(merged_path_));
        emit statusMessage(tr("Merged into %1").arg(merged_path_));
    }
    process_ = nullptr;
    p->deleteLater();
    stop_->setEnabled(false);
    updateRecipe();
    if (ok) emit merged(merged_path_);
    emit finished();
}
