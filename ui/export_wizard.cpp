#include "ui/export_wizard.h"

#include "ui/process_log.h"

#include <QButtonGroup>
#include <QCheckBox>
#include <QComboBox>
#include <QDateTime>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFontDatabase>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QProcess>
#include <QProgressBar>
#include <QPushButton>
#include <QRadioButton>
#include <QRegularExpression>
#include <QSettings>
#include <QVBoxLayout>

#include <functional>
#include <optional>

#include "core/runs/run_reader.h"
#include "core/train/train_config.h"
#include "core/train/training_method.h"
#include "ui/lathe_cli.h"

// A wizard page whose completeness, validation and set-up the wizard decides.
class ExportProgressPage : public QWizardPage {
public:
    std::function<bool()> complete;
    std::function<bool()> validate;
    std::function<void()> init;
    std::function<void()> cleanup;
    using QWizardPage::QWizardPage;
    bool isComplete() const override { return complete ? complete() : QWizardPage::isComplete(); }
    bool validatePage() override { return validate ? validate() : true; }
    void initializePage() override {
        if (init) init();
    }
    void cleanupPage() override {
        if (cleanup) cleanup();
    }
    void changed() { emit completeChanged(); }
};

namespace {

QString q(const std::string& s) { return QString::fromStdString(s); }

constexpr int kRunRole = Qt::UserRole + 1;

// How the run trained, from the config stored with it; nullopt when it no longer parses.
std::optional<lathe::TrainingMethod> methodOf(const std::string& config_yaml) {
    try {
        return lathe::training_method(lathe::parse_train_config(config_yaml, "the run's config"));
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

}  // namespace

ExportWizard::ExportWizard(const lathe::RunReader& store, qint64 selectRun, QWidget* parent)
    : QWizard(parent), store_(store), store_path_(QString::fromStdString(store.path())) {
    setWindowTitle(tr("Export Model"));
    setWizardStyle(QWizard::ClassicStyle);
    setOption(QWizard::NoBackButtonOnLastPage);
    setOption(QWizard::NoCancelButtonOnLastPage);
    resize(760, 520);

    // 1. Run and checkpoint.
    auto* runPage = new ExportProgressPage(this);
    runPage->setObjectName("runPage");
    runPage->setTitle(tr("Run and checkpoint"));
    runPage->setSubTitle(tr("What to export: a training run from the run store, at its latest checkpoint or an earlier one."));
    runs_ = new QComboBox(runPage);
    runs_->setObjectName("exportRun");
    checkpoints_ = new QComboBox(runPage);
    checkpoints_->setObjectName("exportCheckpoint");
    run_info_ = new QLabel(runPage);
    run_info_->setWordWrap(true);
    run_info_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto* runForm = new QFormLayout(runPage);
    runForm->addRow(tr("Run:"), runs_);
    runForm->addRow(tr("Checkpoint:"), checkpoints_);
    runForm->addRow(run_info_);
    connect(runs_, &QComboBox::currentIndexChanged, this, &ExportWizard::fillCheckpoints);
    runPage->complete = [this] { return runId() > 0 && checkpoints_->count() > 0; };
    setPage(RunPage, runPage);

    // 2. Format.
    auto* formatPage = new ExportProgressPage(this);
    formatPage->setObjectName("formatPage");
    formatPage->setTitle(tr("Format"));
    formatPage->setSubTitle(tr("How the model is written, for the tool that will load it."));
    merged_ = new QRadioButton(tr("Merged Hugging Face model — the adapter folded into the base weights; loads in transformers, vLLM, llama.cpp's converter"), formatPage);
    merged_->setObjectName("formatMerged");
    peft_ = new QRadioButton(tr("PEFT adapter — small; loads with peft on top of the base model"), formatPage);
    peft_->setObjectName("formatPeft");
    gguf_button_ = new QRadioButton(tr("GGUF — one file for llama.cpp and Ollama"), formatPage);
    gguf_button_->setObjectName("formatGguf");
    quant_ = new QComboBox(formatPage);
    quant_->setObjectName("ggufQuant");
    format_note_ = new QLabel(formatPage);
    format_note_->setWordWrap(true);
    merged_->setChecked(true);
    auto* group = new QButtonGroup(formatPage);
    group->addButton(merged_);
    group->addButton(peft_);
    group->addButton(gguf_button_);
    auto* formatLayout = new QVBoxLayout(formatPage);
    formatLayout->addWidget(merged_);
    formatLayout->addWidget(peft_);
    formatLayout->addWidget(gguf_button_);
    quant_row_ = new QWidget(formatPage);
    auto* quantRow = new QHBoxLayout(quant_row_);
    quantRow->setContentsMargins(24, 0, 0, 0);
    quantRow->addWidget(new QLabel(tr("Quantization:"), quant_row_));
    quantRow->addWidget(quant_);
    quantRow->addStretch(1);
    formatLayout->addWidget(quant_row_);
    formatLayout->addWidget(format_note_);
    formatLayout->addStretch(1);
    gguf_button_->hide();
    quant_row_->hide();
    connect(gguf_button_, &QRadioButton::toggled, quant_, &QWidget::setEnabled);
    formatPage->init = [this] {
        const bool adapter = peft_->isEnabled();
        format_note_->setText(gguf_ ? QString() : tr("GGUF is not offered: this lathe's `lathe export --help` does not list it."));
        if (!adapter) format_note_->setText(format_note_->text() + "\n" + tr("The run trained full weights, so there is no adapter to export as PEFT."));
    };
    setPage(FormatPage, formatPage);

    // 3. Options.
    auto* optionsPage = new ExportProgressPage(this);
    optionsPage->setObjectName("optionsPage");
    optionsPage->setTitle(tr("Options"));
    optionsPage->setSubTitle(tr("Where the export goes and how its weights are stored."));
    output_ = new QLineEdit(optionsPage);
    output_->setObjectName("exportOutput");
    auto* browse = new QPushButton(tr("Browse…"), optionsPage);
    connect(browse, &QPushButton::clicked, this, [this] {
        QString dir = QFileDialog::getExistingDirectory(this, tr("Export into"), QFileInfo(outputDir()).path());
        if (!dir.isEmpty()) output_->setText(QDir(dir).filePath(QFileInfo(outputDir()).fileName()));
    });
    auto* outputRow = new QHBoxLayout;
    outputRow->addWidget(output_, 1);
    outputRow->addWidget(browse);
    dtype_ = new QComboBox(optionsPage);
    dtype_->setObjectName("exportDtype");
    dtype_->addItem(tr("Default (the base model's; an adapter as saved)"), QString());
    for (const char* t : {"float32", "bfloat16", "float16"}) dtype_->addItem(t, QString(t));
    shard_ = new QLineEdit("5GB", optionsPage);
    shard_->setObjectName("exportShardSize");
    shard_->setToolTip(tr("Largest safetensors file: 5GB, 500MB, 2GiB, …"));
    force_ = new QCheckBox(tr("Replace the folder if it exists"), optionsPage);
    force_->setObjectName("exportForce");
    verify_ = new QCheckBox(tr("Check the export against the trained model"), optionsPage);
    verify_->setObjectName("exportVerify");
    verify_->setChecked(true);
    verify_->setToolTip(tr("Loads what was written and compares its next-token predictions, perplexity, tokenizer, chat template and "
                           "end-of-sequence token with the trained model's (lathe export --verify)"));
    options_error_ = new QLabel(optionsPage);
    options_error_->setObjectName("optionsError");
    options_error_->setWordWrap(true);
    options_error_->setStyleSheet("color: #c62828");
    auto* optionsForm = new QFormLayout(optionsPage);
    optionsForm->addRow(tr("Output folder:"), outputRow);
    optionsForm->addRow(tr("Weights type:"), dtype_);
    optionsForm->addRow(tr("Shard size:"), shard_);
    optionsForm->addRow(QString(), force_);
    optionsForm->addRow(QString(), verify_);
    optionsForm->addRow(options_error_);
    optionsPage->init = [this] {
        if (output_->text().isEmpty()) {
            QString base = QDir::home().filePath("lathe-exports");
            output_->setText(QDir(base).filePath(QStringLiteral("run-%1-%2").arg(runId()).arg(format())));
        }
        shard_->setEnabled(format() == "merged");
        options_error_->clear();
    };
    optionsPage->validate = [this] {
        static const QRegularExpression size(QStringLiteral("^\\d+(\\.\\d+)?\\s*([KMGT]i?B|B)?$"), QRegularExpression::CaseInsensitiveOption);
        if (outputDir().isEmpty()) {
            options_error_->setText(tr("Choose an output folder."));
            return false;
        }
        if (QFileInfo::exists(outputDir()) && !force_->isChecked()) {
            options_error_->setText(tr("%1 exists. Choose another folder, or tick “Replace the folder if it exists”.").arg(outputDir()));
            return false;
        }
        if (shard_->isEnabled() && !size.match(shard_->text().trimmed()).hasMatch()) {
            options_error_->setText(tr("Shard size '%1': write a size such as 5GB, 500MB or 2GiB.").arg(shard_->text()));
            return false;
        }
        options_error_->clear();
        return true;
    };
    setPage(OptionsPage, optionsPage);

    // 4. Progress.
    auto* progressPage = new ExportProgressPage(this);
    progressPage->setObjectName("progressPage");
    progressPage->setTitle(tr("Exporting"));
    progressPage->setSubTitle(tr("`lathe export` writes into a hidden folder and renames it when complete; Cancel leaves nothing behind."));
    bar_ = new QProgressBar(progressPage);
    bar_->setObjectName("exportProgress");
    bar_->setRange(0, 1000);
    bar_->setTextVisible(true);
    progress_what_ = new QLabel(progressPage);
    progress_what_->setWordWrap(true);
    log_ = new QPlainTextEdit(progressPage);
    log_->setObjectName("exportLog");
    log_->setReadOnly(true);
    log_->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    cancel_export_ = new QPushButton(tr("Cancel Export"), progressPage);
    cancel_export_->setObjectName("cancelExport");
    connect(cancel_export_, &QPushButton::clicked, this, &ExportWizard::cancelExport);
    auto* progressLayout = new QVBoxLayout(progressPage);
    progressLayout->addWidget(bar_);
    progressLayout->addWidget(progress_what_);
    progressLayout->addWidget(log_, 1);
    progressLayout->addWidget(cancel_export_, 0, Qt::AlignRight);
    progressPage->init = [this] { startExport(); };
    progressPage->cleanup = [this] { cancelExport(); };  // Back while exporting
    progressPage->complete = [this] { return !isExporting() && !exported_path_.isEmpty(); };
    setPage(ProgressPage, progressPage);

    // 5. Result.
    auto* resultPage = new ExportProgressPage(this);
    resultPage->setObjectName("resultPage");
    resultPage->setTitle(tr("Exported"));
    result_title_ = new QLabel(resultPage);
    result_title_->setWordWrap(true);
    result_title_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    check_ = new QLabel(resultPage);
    check_->setObjectName("exportCheck");
    check_->setWordWrap(true);
    check_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    usage_ = new QPlainTextEdit(resultPage);
    usage_->setObjectName("usage");
    usage_->setReadOnly(true);
    usage_->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    auto* resultLayout = new QVBoxLayout(resultPage);
    resultLayout->addWidget(result_title_);
    resultLayout->addWidget(check_);
    resultLayout->addWidget(new QLabel(tr("How to use it:"), resultPage));
    resultLayout->addWidget(usage_, 1);
    resultPage->init = [this] {
        result_title_->setText(tr("The %1 export is in <b>%2</b>.").arg(format(), exported_path_.toHtmlEscaped()));
        usage_->setPlainText(usageText());
        check_->setVisible(!check_text_.isEmpty());
        check_->setStyleSheet(check_warned_ ? "color: #c62828" : "color: #2e7d32");
        check_->setText(check_text_);
    };
    setPage(ResultPage, resultPage);

    fillRuns(selectRun);
    readHelp();
}

ExportWizard::~ExportWizard() {
    cancelExport();
    // The child processes outlive the pages while QObject deletes children: their `finished` must not
    // reach slots that touch already-deleted widgets.
    for (QProcess* p : {help_, process_}) {
        if (!p) continue;
        p->disconnect(this);
        if (p->state() != QProcess::NotRunning) {
            p->kill();
            p->waitForFinished(2000);
        }
    }
}

void ExportWizard::fillRuns(qint64 select) {
    runs_->clear();
    try {
        for (const lathe::RunRecord& r : store_.list_runs()) {
            runs_->addItem(tr("#%1 %2 — %3 (%4)").arg(r.id).arg(q(r.name), QFileInfo(q(r.model)).fileName(), QString(lathe::to_string(r.status))), static_cast<qlonglong>(r.id));
            if (r.id == select) runs_->setCurrentIndex(runs_->count() - 1);
        }
    } catch (const std::exception& e) {
        run_info_->setText(tr("Could not read the run store %1: %2").arg(store_path_, q(e.what())));
    }
    if (runs_->count() == 0 && run_info_->text().isEmpty()) run_info_->setText(tr("No runs in %1 yet: train one on the Train page first.").arg(store_path_));
    fillCheckpoints();
}

void ExportWizard::fillCheckpoints() {
    checkpoints_->clear();
    const qint64 id = runId();
    if (id <= 0) return;
    try {
        auto run = store_.find_run(id);
        if (!run) return;
        auto cps = store_.checkpoints(id);
        for (auto it = cps.rbegin(); it != cps.rend(); ++it) {
            if (!QFileInfo::exists(q(it->path))) continue;  // deleted from disk since
            checkpoints_->addItem(it == cps.rbegin() ? tr("step %1 (latest)").arg(it->step) : tr("step %1").arg(it->step), QString::number(it->step));
        }
        const std::optional<lathe::TrainingMethod> method = methodOf(run->config_text);
        const bool adapter = method && lathe::trains_adapter(*method);
        peft_->setEnabled(adapter);
        if (!adapter && peft_->isChecked()) merged_->setChecked(true);
        const QString methodText = !method ? tr("unknown (the run's config does not read)")
                                   : adapter ? tr("%1 adapter").arg(lathe::display_name(*method))
                                             : tr("full weights");
        run_info_->setText(checkpoints_->count() == 0 ? tr("Run #%1 has no checkpoint on disk to export.").arg(id)
                                                      : tr("Base model: %1\nOutput folder of the run: %2\nMethod: %3")
                                                            .arg(q(run->model), q(run->output_dir), methodText));
    } catch (const std::exception& e) {
        run_info_->setText(tr("Could not read the run store %1: %2").arg(store_path_, q(e.what())));
    }
    if (auto* p = static_cast<ExportProgressPage*>(page(RunPage))) p->changed();
}

void ExportWizard::readHelp() {
    const QString cli = latheCliPath();
    if (cli.isEmpty()) return;
    help_ = new QProcess(this);
    help_->setProcessChannelMode(QProcess::MergedChannels);
    connect(help_, &QProcess::finished, this, [this] {
        const QString help = QString::fromUtf8(help_->readAll());
        help_->deleteLater();
        help_ = nullptr;
        // GGUF only when this lathe's export says it writes it, with the quantization types it lists.
        static const QRegularExpression formatLine(QStringLiteral("--format[^\\n]*"));
        gguf_ = formatLine.match(help).captured(0).contains("gguf", Qt::CaseInsensitive);
        if (!gguf_) return;
        // The quantization flag and its types, from the flag's own help line ("--gguf-type ... f16, q8_0 or ...").
        static const QRegularExpression flag(QStringLiteral("(--gguf-type|--[a-z-]*quant[a-z-]*)[^\\n]*"));
        const QRegularExpressionMatch flag_line = flag.match(help);
        quant_flag_ = flag_line.captured(1);
        static const QRegularExpression type(QStringLiteral("\\b(f32|f16|bf16|q\\d+_[0-9a-z_]*[0-9a-z])\\b"), QRegularExpression::CaseInsensitiveOption);
        for (auto it = type.globalMatch(flag_line.captured(0)); it.hasNext();) {
            const QString t = it.next().captured(1);
            if (!quant_types_.contains(t)) quant_types_ << t;
        }
        quant_->addItems(quant_types_);
        gguf_button_->show();
        quant_row_->setVisible(!quant_flag_.isEmpty() && !quant_types_.isEmpty());
        quant_->setEnabled(gguf_button_->isChecked());
    });
    help_->start(cli, {"export", "--help"});
}

qint64 ExportWizard::runId() const { return runs_->currentData().toLongLong(); }
QString ExportWizard::checkpoint() const {
    return checkpoints_->currentIndex() <= 0 ? QStringLiteral("latest") : checkpoints_->currentData().toString();
}
QString ExportWizard::format() const { return gguf_button_->isChecked() ? "gguf" : peft_->isChecked() ? "peft" : "merged"; }
QString ExportWizard::outputDir() const { return output_->text().trimmed(); }
void ExportWizard::setOutputDir(const QString& dir) { output_->setText(dir); }
void ExportWizard::setFormat(const QString& f) {
    if (f == "peft") peft_->setChecked(true);
    else if (f == "gguf" && gguf_) gguf_button_->setChecked(true);
    else merged_->setChecked(true);
}
bool ExportWizard::ggufOffered() const { return gguf_; }
bool ExportWizard::isExporting() const { return process_ && process_->state() != QProcess::NotRunning; }
double ExportWizard::progressFraction() const { return bar_->value() / 1000.0; }

QStringList ExportWizard::exportArguments() const {
    QStringList a{"export", "--run", QString::number(runId()), "--checkpoint", checkpoint(), "--format", format(), "--output", outputDir()};
    if (!store_path_.isEmpty()) a << "--store" << store_path_;
    if (!dtype_->currentData().toString().isEmpty()) a << "--dtype" << dtype_->currentData().toString();
    if (format() == "merged") a << "--max-shard-size" << shard_->text().trimmed();
    if (format() == "gguf" && !quant_types_.isEmpty() && !quant_flag_.isEmpty()) a << quant_flag_ << quant_->currentText();
    if (force_->isChecked()) a << "--force";
    if (verify_->isChecked()) a << "--verify";
    return a;
}

void ExportWizard::startExport() {
    cancelExport();
    exported_path_.clear();
    error_.clear();
    check_text_.clear();
    check_warned_ = false;
    cancelled_ = false;
    pending_.clear();
    bar_->setValue(0);
    log_->clear();
    progress_what_->setText(tr("Starting…"));
    const QString cli = latheCliPath();
    if (cli.isEmpty()) {
        error_ = tr("The `lathe` program was not found next to Lathe Studio or on PATH.");
        progress_what_->setText(error_);
        return;
    }
    const QStringList args = exportArguments();
    log_->appendPlainText("$ lathe " + args.join(' ') + "\n");  // the output goes on the next line
    process_ = new QProcess(this);
    connect(process_, &QProcess::readyReadStandardOutput, this, &ExportWizard::readProgress);
    connect(process_, &QProcess::readyReadStandardError, this, [this] {
        appendProcessOutput(log_, process_->readAllStandardError());
    });
    connect(process_, &QProcess::finished, this, &ExportWizard::exportFinished);
    connect(process_, &QProcess::errorOccurred, this, [this](QProcess::ProcessError e) {
        if (e == QProcess::FailedToStart) exportFinished();
    });
    process_->start(cli, args);
    cancel_export_->setEnabled(true);
}

// The export_verify event (docs/export.md) in a sentence or two, with its warnings.
QString ExportWizard::checkSummary(const QJsonObject& e) const {
    QString text = tr("Checked against the trained model on %1 positions: the next token agrees %2% of the time (%3 usually keeps "
                      "%4% or more); mean KL %5 nats; perplexity %6 trained, %7 exported.")
                       .arg(e["tokens"].toInteger())
                       .arg(100 * e["top1_agreement"].toDouble(), 0, 'f', 1)
                       .arg(e["format"].toString() == "gguf" ? e["gguf_type"].toString() : e["format"].toString())
                       .arg(100 * e["min_top1_agreement"].toDouble(), 0, 'f', 0)
                       .arg(e["mean_kl"].toDouble(), 0, 'g', 3)
                       .arg(e["perplexity_trained"].toDouble(), 0, 'f', 2)
                       .arg(e["perplexity_exported"].toDouble(), 0, 'f', 2);
    for (const QJsonValue& w : e["warnings"].toArray()) text += "\n" + tr("Warning: %1").arg(w.toString());
    return text;
}

void ExportWizard::readProgress() {
    pending_ += process_->readAllStandardOutput();
    for (qsizetype nl; (nl = pending_.indexOf('\n')) >= 0;) {
        const QByteArray line = pending_.left(nl);
        pending_.remove(0, nl + 1);
        const QJsonObject e = QJsonDocument::fromJson(line).object();
        const QString event = e["event"].toString();
        if (event == "export_progress") {
            bar_->setValue(static_cast<int>(e["fraction"].toDouble() * 1000));
            progress_what_->setText(tr("Writing %1").arg(e["what"].toString()));
        } else if (event == "export_done") {
            exported_path_ = e["path"].toString();
            if (verify_->isChecked()) {
                bar_->setValue(1000);
                progress_what_->setText(tr("Written. Checking it against the trained model…"));
            }
        } else if (event == "export_verify") {
            check_text_ = checkSummary(e);
            check_warned_ = !e["warnings"].toArray().isEmpty();
        } else if (event == "export_error") {
            if (!exported_path_.isEmpty()) {  // the export is complete; what failed is the check
                check_text_ = tr("The export was written, but the check against the trained model could not run: %1").arg(e["message"].toString());
                check_warned_ = true;
            } else {
                error_ = e["message"].toString();
            }
        }
    }
}

void ExportWizard::cancelExport() {
    if (!isExporting()) return;
    cancelled_ = true;
    // SIGTERM: lathe export removes its staging folder and leaves the output as it was.
    process_->terminate();
    if (!process_->waitForFinished(15000)) process_->kill();
}

void ExportWizard::exportFinished() {
    QProcess* p = process_;
    if (!p) return;
    readProgress();
    // A failed check after export_done leaves a complete export (and says so on the result page).
    const bool ok = !exported_path_.isEmpty() && ((p->exitStatus() == QProcess::NormalExit && p->exitCode() == 0) || check_warned_);
    if (!ok) exported_path_.clear();
    if (cancelled_) {
        progress_what_->setText(tr("Cancelled. Nothing was written to %1.").arg(outputDir()));
    } else if (!ok) {
        if (error_.isEmpty()) error_ = p->errorString();
        progress_what_->setText(tr("The export failed: %1").arg(error_));
    } else {
        bar_->setValue(1000);
        progress_what_->setText(tr("Done: %1").arg(exported_path_));
        QSettings().setValue("export/lastOutput", exported_path_);
        emit exported(exported_path_);
    }
    process_ = nullptr;
    p->deleteLater();
    cancel_export_->setEnabled(false);
    static_cast<ExportProgressPage*>(page(ProgressPage))->changed();
}

void ExportWizard::reject() {
    cancelExport();
    QWizard::reject();
}

QString ExportWizard::usageText() const {
    const QString path = exported_path_.isEmpty() ? outputDir() : exported_path_;
    // A model without a tokenizer (token ids in, token ids out) is prompted with ids.
    const QString base = QFileInfo(path + "/tokenizer.json").exists() || QFileInfo(path + "/tokenizer.model").exists() ? path : QString();
    const QString prompt = base.isEmpty() && format() == "merged" ? QStringLiteral("1 2 3") : QStringLiteral("Hello");
    if (format() == "merged" && base.isEmpty())
        return QStringLiteral(
                   "# Python (transformers); this model has no tokenizer, so it takes token ids\n"
                   "from transformers import AutoModelForCausalLM\n"
                   "model = AutoModelForCausalLM.from_pretrained(\"%1\")\n\n"
                   "# Lathe\n"
                   "lathe info %1\n"
                   "lathe generate --model %1 --prompt \"%2\"\n")
            .arg(path, prompt);
    if (format() == "peft")
        return QStringLiteral(
                   "# Python (peft): the adapter on top of its base model\n"
                   "from peft import AutoPeftModelForCausalLM\n"
                   "from transformers import AutoTokenizer\n"
                   "model = AutoPeftModelForCausalLM.from_pretrained(\"%1\")\n"
                   "tokenizer = AutoTokenizer.from_pretrained(model.peft_config[\"default\"].base_model_name_or_path)\n\n"
                   "# Lathe\n"
                   "lathe generate --model BASE_MODEL --adapter %1 --prompt \"Hello\"\n"
                   "lathe export --adapter %1 --format merged --output merged-model\n")
            .arg(path);
    if (format() == "gguf")
        return QStringLiteral(
                   "# llama.cpp\n"
                   "llama-cli -m \"%1\" -p \"Hello\"\n\n"
                   "# Ollama: a Modelfile with the line\n"
                   "FROM %1\n"
                   "# then\n"
                   "ollama create my-model -f Modelfile && ollama run my-model\n")
            .arg(path);
    return QStringLiteral(
               "# Python (transformers)\n"
               "from transformers import AutoModelForCausalLM, AutoTokenizer\n"
               "model = AutoModelForCausalLM.from_pretrained(\"%1\")\n"
               "tokenizer = AutoTokenizer.from_pretrained(\"%1\")\n\n"
               "# Lathe\n"
               "lathe info %1\n"
               "lathe generate --model %1 --prompt \"Hello\"\n\n"
               "# llama.cpp: convert to GGUF\n"
               "python convert_hf_to_gguf.py %1 --outfile model.gguf\n")
        .arg(path);
}
