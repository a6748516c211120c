#include "ui/pages/train_page.h"

#include <QCheckBox>
#include <QComboBox>
#include <QCoreApplication>
#include <QDateTime>
#include <QFontDatabase>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QRegularExpression>
#include <QSaveFile>
#include <QScrollArea>
#include <QSettings>
#include <QSpinBox>
#include <QSplitter>
#include <QStandardItemModel>
#include <QStandardPaths>
#include <QTextBlock>
#include <QTimer>
#include <QVBoxLayout>

#include <optional>

#include "core/data/preference.h"
#include "core/data/read_rows.h"
#include "core/models/config.h"
#include "core/models/model_summary.h"
#include "core/train/memory_estimate.h"
#include "core/train/presets.h"
#include "core/train/training_method.h"
#include "core/util/error.h"
#include "ui/device_memory.h"
#include "ui/pages/train_ranks.h"
#include "ui/lathe_cli.h"
#include "ui/training_session.h"

namespace {

std::vector<std::string> splitList(const QString& text) {
    std::vector<std::string> out;
    for (const QString& part : text.split(QRegularExpression("[,\\s]+"), Qt::SkipEmptyParts)) out.push_back(part.toStdString());
    return out;
}

QString joinList(const std::vector<std::string>& v, const QString& sep = ", ") {
    QStringList l;
    for (const auto& s : v) l << QString::fromStdString(s);
    return l.join(sep);
}

QString shortNumber(double v) { return QString::number(v, 'g', 10); }

// The 1-based line of the first line starting with `key:` in `yaml`, 0 when there is none.
int lineOfKey(const QString& yaml, const QString& key) {
    const QStringList lines = yaml.split('\n');
    for (int i = 0; i < lines.size(); ++i)
        if (lines[i].startsWith(key + ":")) return i + 1;
    return 0;
}

int lineContaining(const QString& yaml, const QString& text) {
    const QStringList lines = yaml.split('\n');
    for (int i = 0; i < lines.size(); ++i)
        if (lines[i].contains(text)) return i + 1;
    return 0;
}

QSpinBox* spin(int min, int max, const QString& tip, QWidget* parent) {
    auto* s = new QSpinBox(parent);
    s->setRange(min, max);
    s->setToolTip(tip);
    return s;
}

QDoubleSpinBox* dspin(double min, double max, int decimals, double step, const QString& tip, QWidget* parent) {
    auto* s = new QDoubleSpinBox(parent);
    s->setRange(min, max);
    s->setDecimals(decimals);
    s->setSingleStep(step);
    s->setToolTip(tip);
    return s;
}

}  // namespace

TrainPage::TrainPage(QWidget* parent) : QWidget(parent), devices_(new DeviceMemory(this)) {
    validate_timer_ = new QTimer(this);
    validate_timer_->setSingleShot(true);
    validate_timer_->setInterval(250);  // validate when typing pauses
    connect(validate_timer_, &QTimer::timeout, this, &TrainPage::validateNow);
    buildForm();
    connect(devices_, &DeviceMemory::gpusChanged, this, [this] {
        const QString current = device_->currentData().toString();
        syncing_ = true;
        while (device_->count() > 3) device_->removeItem(3);
        for (const GpuInfo& g : devices_->gpus())
            device_->addItem(tr("cuda:%1 — %2 (%3 GiB free)").arg(g.index).arg(g.name).arg(g.free_gib, 0, 'f', 1), QString("cuda:%1").arg(g.index));
        int i = device_->findData(current);
        device_->setCurrentIndex(i >= 0 ? i : 0);
        ranks_->setGpus(devices_->gpus());
        ranks_->followDevice(device_->currentData().toString());
        syncing_ = false;
        validateNow();  // bf16: auto and the free memory depend on the GPUs found
    });
    devices_->refresh();

    lathe::TrainConfig defaults;
    defaults.adapter = "lora";
    defaults.lora_target_modules = {"q_proj", "v_proj"};
    defaults.output_dir = QDir(QStandardPaths::writableLocation(QStandardPaths::HomeLocation)).filePath("lathe-runs/run").toStdString();
    setConfig(defaults);
    applyPreset("Quick LoRA");
    // The configuration last started or saved comes back (a text that no longer parses does not).
    const QString last = QSettings().value("train/lastConfig").toString();
    if (!last.isEmpty()) {
        try {
            setConfig(lathe::parse_train_config(last.toStdString(), "run.yaml"));
        } catch (const lathe::Error&) {
        }
    }
}

TrainPage::~TrainPage() {
    // Child processes still running are killed as children are deleted; their signals must not reach
    // this half-destroyed page.
    devices_->disconnect(this);
}

QStringList TrainPage::presetNames() {
    QStringList names;
    for (const lathe::TrainPreset& p : lathe::train_presets()) names << QString::fromStdString(p.name);
    return names;
}

QString TrainPage::methodName(Method m) {
    switch (m) {
        case Method::Full: return tr("Full finetune");
        case Method::Lora: return tr("LoRA");
        case Method::RsLora: return tr("rsLoRA");
        case Method::Dora: return tr("DoRA");
        case Method::ContinuedPretraining: return tr("Continued pretraining (raw text)");
    }
    return {};
}

void TrainPage::buildForm() {
    auto* form = new QWidget(this);
    auto* formLayout = new QVBoxLayout(form);

    // Method and preset.
    auto* methodBox = new QGroupBox(tr("Method"), form);
    auto* methodForm = new QFormLayout(methodBox);
    preset_ = new QComboBox(methodBox);
    preset_->addItem(tr("Choose a preset…"));
    for (const lathe::TrainPreset& p : lathe::train_presets()) {
        preset_->addItem(QString::fromStdString(p.name));
        preset_->setItemData(preset_->count() - 1, QString::fromStdString(p.description), Qt::ToolTipRole);
    }
    preset_->setToolTip(tr("Fills in the method and training settings; keeps the model, data and output folder"));
    connect(preset_, QOverload<int>::of(&QComboBox::activated), this, [this](int i) {
        if (i > 0) applyPreset(preset_->itemText(i));
    });
    method_ = new QComboBox(methodBox);
    for (Method m : {Method::Lora, Method::RsLora, Method::Dora, Method::Full, Method::ContinuedPretraining})
        method_->addItem(methodName(m), static_cast<int>(m));
    method_->setToolTip(tr("LoRA, rsLoRA and DoRA train an adapter (on 4-bit base weights with QLoRA, in the Adapter box); "
                           "full finetuning trains every weight"));
    objective_ = new QComboBox(methodBox);
    objective_->addItem(tr("Supervised (SFT)"), QString());
    objective_->addItem(tr("DPO — preference pairs, against the base"), "dpo");
    objective_->addItem(tr("IPO — DPO with a squared loss"), "ipo");
    objective_->addItem(tr("ORPO — pairs, no reference model"), "orpo");
    objective_->addItem(tr("SimPO — pairs, length-normalised, no reference"), "simpo");
    objective_->setToolTip(tr("Supervised learns the answers in the data; DPO, IPO, ORPO and SimPO learn from pairs of a chosen and a "
                              "rejected answer to the same prompt (rl:), as TRL computes them"));
    methodForm->addRow(tr("Preset"), preset_);
    methodForm->addRow(tr("Objective"), objective_);
    methodForm->addRow(tr("Method"), method_);

    // Model, data, output.
    auto* dataBox = new QGroupBox(tr("Model and data"), form);
    auto* dataForm = new QFormLayout(dataBox);
    auto pathRow = [&](QLineEdit*& edit, const QString& placeholder, auto chooser) {
        auto* row = new QWidget(dataBox);
        auto* h = new QHBoxLayout(row);
        h->setContentsMargins(0, 0, 0, 0);
        edit = new QLineEdit(row);
        edit->setPlaceholderText(placeholder);
        auto* browse = new QPushButton(tr("Browse…"), row);
        h->addWidget(edit, 1);
        h->addWidget(browse);
        connect(browse, &QPushButton::clicked, this, chooser);
        return row;
    };
    dataForm->addRow(tr("Model folder"), pathRow(model_, tr("Hugging Face model folder (config.json + safetensors)"), [this] {
        QString d = QFileDialog::getExistingDirectory(this, tr("Model Folder"), model_->text());
        if (!d.isEmpty()) model_->setText(d);
    }));
    dataForm->addRow(tr("Dataset files"), pathRow(datasets_, tr("one or more .jsonl / .txt files, separated by ;"), [this] {
        QStringList files = QFileDialog::getOpenFileNames(this, tr("Dataset Files"), QFileInfo(datasets_->text().section(';', 0, 0)).path(),
                                                          tr("Datasets (*.jsonl *.json *.txt);;All files (*)"));
        if (!files.isEmpty()) datasets_->setText(files.join(";"));
    }));
    dataset_type_ = new QComboBox(dataBox);
    dataset_type_->addItem(tr("pretokenized (input_ids, labels)"), "pretokenized");
    dataset_type_->addItem(tr("text (raw text, every token trained)"), "text");
    dataset_type_->addItem(tr("chat_template (messages, assistant turns trained)"), "chat_template");
    dataset_type_->addItem(tr("alpaca (instruction, input, output)"), "alpaca");
    dataset_type_->addItem(tr("completion (one text per row, every token trained)"), "completion");
    dataset_type_->addItem(tr("detected from each row's fields"), "");
    dataset_type_->addItem(tr("chat_template.default (messages, chosen, rejected: pairs)"), "chat_template.default");
    dataset_type_->addItem(tr("chatml.intel (system, question, chosen, rejected: pairs)"), "chatml.intel");
    dataForm->addRow(tr("Dataset type"), dataset_type_);
    packing_ = new QCheckBox(tr("pack rows together"), dataBox);
    packing_->setToolTip(tr("several rows share each sequence_len row, each with its own positions and attention"));
    dataForm->addRow(tr("Sample packing"), packing_);
    val_size_ = dspin(0, 0.5, 3, 0.01, tr("share of rows held out for the validation loss"), dataBox);
    dataForm->addRow(tr("Validation share"), val_size_);
    dataForm->addRow(tr("Output folder"), pathRow(output_, tr("checkpoints go to OUTPUT/checkpoint-STEP"), [this] {
        QString d = QFileDialog::getExistingDirectory(this, tr("Output Folder"), output_->text());
        if (!d.isEmpty()) output_->setText(d);
    }));

    // LoRA family.
    lora_box_ = new QGroupBox(tr("Adapter"), form);
    auto* loraForm = new QFormLayout(lora_box_);
    lora_r_ = spin(1, 1024, tr("LoRA rank"), lora_box_);
    lora_alpha_ = dspin(0.01, 4096, 2, 1, tr("scale = alpha / r (alpha / sqrt(r) with rsLoRA)"), lora_box_);
    lora_dropout_ = dspin(0, 0.99, 3, 0.01, tr("dropout on the adapter's input"), lora_box_);
    all_linear_ = new QCheckBox(tr("every linear layer"), lora_box_);
    all_linear_->setToolTip(tr("adapt every linear layer but the output head (PEFT's all-linear)"));
    qlora_ = new QCheckBox(tr("4-bit base weights (QLoRA)"), lora_box_);
    qlora_->setToolTip(tr("hold the frozen base in bitsandbytes NF4 with double quantization (load_in_4bit): about a "
                          "quarter of the memory for the weights; the adapter trains in full precision"));
    targets_ = new QLineEdit(lora_box_);
    targets_->setPlaceholderText("q_proj, v_proj");
    loraForm->addRow(tr("Rank (r)"), lora_r_);
    loraForm->addRow(tr("Alpha"), lora_alpha_);
    loraForm->addRow(tr("Dropout"), lora_dropout_);
    loraForm->addRow(tr("All linear"), all_linear_);
    loraForm->addRow(tr("Target modules"), targets_);
    loraForm->addRow(tr("Base weights"), qlora_);

    // Preference tuning: each objective's own options (the rows of the others are hidden).
    pref_box_ = new QGroupBox(tr("Preference"), form);
    pref_form_ = new QFormLayout(pref_box_);
    dpo_beta_ = dspin(0.001, 100, 3, 0.05, tr("how far the model may move from the reference (DPO, IPO) or the reward scale (SimPO)"), pref_box_);
    label_smoothing_ = dspin(0, 0.49, 3, 0.01, tr("share of pairs assumed to be labelled the wrong way round (DPO: the robust loss)"), pref_box_);
    orpo_alpha_ = dspin(0, 100, 3, 0.05, tr("weight of the odds-ratio term beside the chosen answers' loss"), pref_box_);
    simpo_gamma_ = dspin(0, 100, 3, 0.1, tr("target reward margin between chosen and rejected"), pref_box_);
    cpo_alpha_ = dspin(0, 100, 3, 0.1, tr("weight of the chosen answers' language-model loss"), pref_box_);
    pref_form_->addRow(tr("Beta"), dpo_beta_);
    pref_form_->addRow(tr("Label smoothing"), label_smoothing_);
    pref_form_->addRow(tr("ORPO alpha"), orpo_alpha_);
    pref_form_->addRow(tr("SimPO gamma"), simpo_gamma_);
    pref_form_->addRow(tr("Chosen NLL weight"), cpo_alpha_);

    full_box_ = new QGroupBox(tr("Full finetune"), form);
    auto* fullForm = new QFormLayout(full_box_);
    unfrozen_ = new QLineEdit(full_box_);
    unfrozen_->setPlaceholderText(tr("all weights (or regexes, e.g. model.layers.1[0-9].*)"));
    fullForm->addRow(tr("Train only"), unfrozen_);

    // Optimisation.
    auto* trainBox = new QGroupBox(tr("Training"), form);
    auto* trainForm = new QFormLayout(trainBox);
    epochs_ = spin(1, 1000, tr("passes over the training rows"), trainBox);
    max_steps_ = spin(0, 10000000, tr("stop after this many optimizer steps (0: run every epoch)"), trainBox);
    max_steps_->setSpecialValueText(tr("off"));
    micro_batch_ = spin(1, 4096, tr("rows per forward pass"), trainBox);
    grad_accum_ = spin(1, 4096, tr("micro-batches per optimizer step"), trainBox);
    seq_len_ = spin(1, 1048576, tr("rows longer than this are truncated"), trainBox);
    lr_ = new QLineEdit(trainBox);
    lr_->setToolTip(tr("peak learning rate, e.g. 2e-4"));
    scheduler_ = new QComboBox(trainBox);
    scheduler_->addItems({"cosine", "linear", "constant", "constant_with_warmup", "cosine_with_min_lr", "warmup_stable_decay"});
    warmup_ = spin(0, 1000000, tr("linear warmup steps"), trainBox);
    weight_decay_ = dspin(0, 10, 4, 0.01, tr("decoupled weight decay"), trainBox);
    save_steps_ = spin(0, 10000000, tr("checkpoint every N steps (always one at the end)"), trainBox);
    save_steps_->setSpecialValueText(tr("at the end"));
    eval_steps_ = spin(0, 10000000, tr("validation loss every N steps (always at the end)"), trainBox);
    eval_steps_->setSpecialValueText(tr("at the end"));
    bf16_ = new QComboBox(trainBox);
    bf16_->addItem(tr("auto"), "auto");
    bf16_->addItem(tr("bfloat16"), "true");
    bf16_->addItem(tr("float32"), "false");
    bf16_->setToolTip(tr("auto: bfloat16 on a GPU that has it (Ampere or later), float32 on the CPU. "
                         "bfloat16: bfloat16 compute, float32 trained weights"));
    grad_ckpt_ = new QCheckBox(tr("recompute activations"), trainBox);
    grad_ckpt_->setToolTip(tr("less memory for one more forward pass per step"));
    device_ = new QComboBox(trainBox);
    device_->addItem(tr("auto (a GPU when there is one)"), "auto");
    device_->addItem(tr("cpu"), "cpu");
    device_->addItem(tr("cuda"), "cuda");
    ranks_ = new RankPicker(trainBox);
    trainForm->addRow(tr("Epochs"), epochs_);
    trainForm->addRow(tr("Max steps"), max_steps_);
    trainForm->addRow(tr("Micro-batch size"), micro_batch_);
    trainForm->addRow(tr("Grad. accumulation"), grad_accum_);
    trainForm->addRow(tr("Sequence length"), seq_len_);
    trainForm->addRow(tr("Learning rate"), lr_);
    trainForm->addRow(tr("Scheduler"), scheduler_);
    trainForm->addRow(tr("Warmup steps"), warmup_);
    trainForm->addRow(tr("Weight decay"), weight_decay_);
    trainForm->addRow(tr("Save every"), save_steps_);
    trainForm->addRow(tr("Evaluate every"), eval_steps_);
    trainForm->addRow(tr("Precision"), bf16_);
    trainForm->addRow(tr("Checkpointing"), grad_ckpt_);
    trainForm->addRow(tr("Device"), device_);
    trainForm->addRow(tr("Train on"), ranks_);

    // Two columns, so that the whole form fits a 1280×800 window without scrolling.
    auto* columns = new QHBoxLayout;
    auto* first = new QVBoxLayout;
    first->addWidget(methodBox);
    first->addWidget(dataBox);
    first->addWidget(lora_box_);
    first->addWidget(full_box_);
    first->addStretch(1);
    auto* second = new QVBoxLayout;
    second->addWidget(trainBox);
    second->addWidget(pref_box_);
    second->addStretch(1);
    columns->addLayout(first, 1);
    columns->addLayout(second, 1);
    formLayout->setContentsMargins(0, 0, 0, 0);
    formLayout->addLayout(columns);
    // Combo boxes sized by their longest item would make the form wider than the page (the Training
    // column ended up off screen): they take a modest width and show long items in the popup.
    for (QComboBox* combo : form->findChildren<QComboBox*>()) {
        combo->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
        combo->setMinimumContentsLength(10);
    }
    auto* scroll = new QScrollArea(this);
    scroll->setWidget(form);
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);

    // The YAML, problems, memory, actions.
    auto* right = new QWidget(this);
    auto* rightLayout = new QVBoxLayout(right);
    rightLayout->setContentsMargins(0, 0, 0, 0);
    auto* yamlLabel = new QLabel(tr("<b>run.yaml</b> — what <code>lathe train</code> reads; edit it here or in the form"), right);
    yaml_ = new QPlainTextEdit(right);
    QFont mono = QFontDatabase::systemFont(QFontDatabase::FixedFont);
    yaml_->setFont(mono);
    yaml_->setLineWrapMode(QPlainTextEdit::NoWrap);
    problems_label_ = new QLabel(right);
    problems_label_->setWordWrap(true);
    problems_label_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    memory_ = new QLabel(right);
    memory_->setWordWrap(true);
    auto* load = new QPushButton(tr("Load…"), right);
    load->setShortcut(QKeySequence("Ctrl+Shift+O"));
    auto* save = new QPushButton(tr("Save As…"), right);
    save->setShortcut(QKeySequence("Ctrl+Shift+S"));
    start_ = new QPushButton(tr("Start training"), right);
    start_->setShortcut(QKeySequence("Ctrl+Return"));
    start_->setToolTip(tr("Save the configuration and start `lathe train` (Ctrl+Enter)"));
    start_->setDefault(true);
    connect(load, &QPushButton::clicked, this, [this] {
        QString f = QFileDialog::getOpenFileName(this, tr("Load Run Configuration"), path_, tr("YAML (*.yaml *.yml);;All files (*)"));
        if (!f.isEmpty()) loadConfig(f);
    });
    connect(save, &QPushButton::clicked, this, [this] {
        QString f = QFileDialog::getSaveFileName(this, tr("Save Run Configuration"), path_.isEmpty() ? "run.yaml" : path_, tr("YAML (*.yaml *.yml)"));
        if (!f.isEmpty()) saveConfig(f);
    });
    connect(start_, &QPushButton::clicked, this, &TrainPage::start);
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(load);
    buttons->addWidget(save);
    buttons->addStretch(1);
    buttons->addWidget(start_);
    rightLayout->addWidget(yamlLabel);
    rightLayout->addWidget(yaml_, 1);
    rightLayout->addWidget(problems_label_);
    rightLayout->addWidget(memory_);
    rightLayout->addLayout(buttons);

    auto* split = new QSplitter(Qt::Horizontal, this);
    split->addWidget(scroll);
    split->addWidget(right);
    // The form's two columns need about 800 px to show every field whole; the YAML pane takes the rest
    // (at 1280 px wide) and grows first when the window does.
    split->setStretchFactor(0, 0);
    split->setStretchFactor(1, 1);
    split->setSizes({820, 320});
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(split);

    // Names for tests and style sheets.
    preset_->setObjectName("preset");
    method_->setObjectName("method");
    objective_->setObjectName("objective");
    pref_box_->setObjectName("preferenceOptions");
    dpo_beta_->setObjectName("dpoBeta");
    label_smoothing_->setObjectName("labelSmoothing");
    orpo_alpha_->setObjectName("orpoAlpha");
    simpo_gamma_->setObjectName("simpoGamma");
    cpo_alpha_->setObjectName("cpoAlpha");
    dataset_type_->setObjectName("datasetType");
    val_size_->setObjectName("validationShare");
    packing_->setObjectName("samplePacking");
    model_->setObjectName("modelFolder");
    datasets_->setObjectName("datasets");
    output_->setObjectName("outputDir");
    lr_->setObjectName("learningRate");
    yaml_->setObjectName("yamlEditor");
    problems_label_->setObjectName("problems");
    memory_->setObjectName("memoryEstimate");
    qlora_->setObjectName("qlora");
    start_->setObjectName("startButton");

    field_for_key_ = {{"base_model", model_}, {"datasets", datasets_}, {"output_dir", output_}, {"lora_r", lora_r_},
                      {"lora_alpha", lora_alpha_}, {"lora_dropout", lora_dropout_}, {"lora_target_modules", targets_},
                      {"unfrozen_parameters", unfrozen_}, {"val_set_size", val_size_}, {"sequence_len", seq_len_},
                      {"micro_batch_size", micro_batch_}, {"gradient_accumulation_steps", grad_accum_}, {"num_epochs", epochs_},
                      {"max_steps", max_steps_}, {"learning_rate", lr_}, {"lr_scheduler", scheduler_}, {"warmup_steps", warmup_},
                      {"weight_decay", weight_decay_}, {"save_steps", save_steps_}, {"eval_steps", eval_steps_}, {"device", device_},
                      {"rl", objective_}, {"dpo_beta", dpo_beta_}, {"rl_beta", dpo_beta_}, {"dpo_label_smoothing", label_smoothing_},
                      {"dpo_loss_type", label_smoothing_}, {"orpo_alpha", orpo_alpha_}, {"simpo_gamma", simpo_gamma_},
                      {"cpo_alpha", cpo_alpha_}, {"sample_packing", packing_}};

    // Every edit re-derives the YAML and validates it when typing pauses.
    for (QLineEdit* e : {model_, datasets_, output_, targets_, unfrozen_, lr_}) connect(e, &QLineEdit::textChanged, this, &TrainPage::formChanged);
    for (QSpinBox* s : {lora_r_, epochs_, max_steps_, micro_batch_, grad_accum_, seq_len_, warmup_, save_steps_, eval_steps_})
        connect(s, QOverload<int>::of(&QSpinBox::valueChanged), this, &TrainPage::formChanged);
    for (QDoubleSpinBox* s : {lora_alpha_, lora_dropout_, val_size_, weight_decay_, dpo_beta_, label_smoothing_, orpo_alpha_, simpo_gamma_, cpo_alpha_})
        connect(s, QOverload<double>::of(&QDoubleSpinBox::valueChanged), this, &TrainPage::formChanged);
    for (QCheckBox* c : {packing_, all_linear_, qlora_, grad_ckpt_}) connect(c, &QCheckBox::toggled, this, &TrainPage::formChanged);
    for (QComboBox* c : {objective_, method_, dataset_type_, scheduler_, bf16_, device_})
        connect(c, QOverload<int>::of(&QComboBox::currentIndexChanged), this, &TrainPage::formChanged);
    connect(yaml_, &QPlainTextEdit::textChanged, this, &TrainPage::yamlEdited);
    // "Train on" and Device follow each other: the list's choice is the YAML's device.
    connect(ranks_, &RankPicker::changed, this, [this] {
        const QString dev = ranks_->device();
        if (dev.isEmpty() || dev == device_->currentData().toString()) return;
        if (device_->findData(dev) < 0) device_->addItem(dev, dev);
        device_->setCurrentIndex(device_->findData(dev));
    });
    connect(device_, QOverload<int>::of(&QComboBox::currentIndexChanged), this, [this] { ranks_->followDevice(device_->currentData().toString()); });
    connect(ranks_, &RankPicker::changed, this, &TrainPage::validateNow);  // the estimate is per rank of what is chosen
}

TrainPage::Method TrainPage::method() const { return static_cast<Method>(method_->currentData().toInt()); }

void TrainPage::setMethod(Method m) { method_->setCurrentIndex(method_->findData(static_cast<int>(m))); }

lathe::TrainConfig TrainPage::config() const {
    lathe::TrainConfig c = base_;
    const Method m = method();
    const lathe::TrainingMethod trained = m == Method::Lora     ? lathe::TrainingMethod::lora
                                          : m == Method::RsLora ? lathe::TrainingMethod::rslora
                                          : m == Method::Dora   ? lathe::TrainingMethod::dora
                                                                : lathe::TrainingMethod::full;
    lathe::set_training_method(c, trained);
    const bool lora = lathe::trains_adapter(trained);
    if (lora) {
        c.lora_r = lora_r_->value();
        c.lora_alpha = lora_alpha_->value();
        c.lora_dropout = lora_dropout_->value();
        c.lora_target_linear = all_linear_->isChecked();
        c.lora_target_modules = c.lora_target_linear ? std::vector<std::string>{} : splitList(targets_->text());
        c.adapter = qlora_->isChecked() ? "qlora" : "lora";
        c.load_in_4bit = qlora_->isChecked();
        c.unfrozen_parameters.clear();
    } else {
        c.unfrozen_parameters = m == Method::Full ? splitList(unfrozen_->text()) : std::vector<std::string>{};
        c.lora_target_modules.clear();
        c.lora_target_linear = false;
        c.lora_modules_to_save.clear();
        c.lora_model_dir.clear();
        c.loraplus_lr_ratio = 0;
    }
    c.base_model = model_->text().trimmed().toStdString();
    const std::string type = m == Method::ContinuedPretraining ? "text" : dataset_type_->currentData().toString().toStdString();
    const std::vector<lathe::DatasetSpec> previous = c.datasets;
    c.datasets.clear();
    for (const QString& p : datasets_->text().split(';', Qt::SkipEmptyParts)) {
        if (p.trimmed().isEmpty()) continue;
        lathe::DatasetSpec d;
        // A file the configuration already had keeps the keys the form does not show (field_messages,
        // roles_to_train, weight, ...), so saving from the form never drops them.
        for (const lathe::DatasetSpec& old : previous)
            if (old.path == p.trimmed().toStdString()) d = old;
        d.path = p.trimmed().toStdString();
        d.type = type;
        c.datasets.push_back(d);
    }
    c.sample_packing = packing_->isChecked();
    c.val_set_size = val_size_->value();
    // Preference tuning: the chosen objective's keys; the others go back to their defaults, so the YAML
    // holds only keys that apply (the parser refuses the rest).
    const lathe::TrainConfig d;
    c.rl = objective_->currentData().toString().toStdString();
    const bool dpo = c.rl == "dpo" || c.rl == "ipo";
    c.dpo_beta = dpo || c.rl == "simpo" ? dpo_beta_->value() : d.dpo_beta;
    c.dpo_label_smoothing = c.rl == "dpo" || c.rl == "simpo" ? label_smoothing_->value() : d.dpo_label_smoothing;
    // TRL's sigmoid DPO loss has no label smoothing: smoothed labels are its robust loss.
    c.dpo_loss_type = c.rl == "dpo" && c.dpo_label_smoothing > 0 ? "robust" : d.dpo_loss_type;
    c.orpo_alpha = c.rl == "orpo" ? orpo_alpha_->value() : d.orpo_alpha;
    c.simpo_gamma = c.rl == "simpo" ? simpo_gamma_->value() : d.simpo_gamma;
    c.cpo_alpha = c.rl == "simpo" ? cpo_alpha_->value() : d.cpo_alpha;
    if (!dpo) c.precompute_ref_log_probs = false;
    if (c.rl.empty()) {
        c.max_length = d.max_length;
        c.max_prompt_length = d.max_prompt_length;
    } else {
        // Not supported with pairs (the parser says so): pairs run unpacked.
        c.sample_packing = false;
    }
    c.output_dir = output_->text().trimmed().toStdString();
    c.num_epochs = epochs_->value();
    c.max_steps = max_steps_->value();
    c.micro_batch_size = micro_batch_->value();
    c.gradient_accumulation_steps = grad_accum_->value();
    c.sequence_len = seq_len_->value();
    bool ok = false;
    double lr = lr_->text().trimmed().toDouble(&ok);
    if (ok) c.learning_rate = lr;
    c.lr_scheduler = scheduler_->currentText().toStdString();
    c.warmup_steps = warmup_->value();
    c.weight_decay = weight_decay_->value();
    c.save_steps = save_steps_->value();
    c.eval_steps = eval_steps_->value();
    c.bf16 = bf16_->currentData().toString().toStdString();
    c.gradient_checkpointing = grad_ckpt_->isChecked();
    c.device = device_->currentData().toString().toStdString();
    return c;
}

void TrainPage::setConfig(const lathe::TrainConfig& c) {
    const bool was = syncing_;
    syncing_ = true;
    base_ = c;
    switch (lathe::training_method(c)) {
        case lathe::TrainingMethod::lora: setMethod(Method::Lora); break;
        case lathe::TrainingMethod::rslora: setMethod(Method::RsLora); break;
        case lathe::TrainingMethod::dora: setMethod(Method::Dora); break;
        case lathe::TrainingMethod::full: setMethod(lathe::is_continued_pretraining(c) ? Method::ContinuedPretraining : Method::Full); break;
    }
    const QString rl = QString::fromStdString(c.rl);
    if (objective_->findData(rl) < 0) objective_->addItem(rl, rl);
    objective_->setCurrentIndex(objective_->findData(rl));
    dpo_beta_->setValue(c.dpo_beta);
    label_smoothing_->setValue(c.dpo_label_smoothing);
    orpo_alpha_->setValue(c.orpo_alpha);
    simpo_gamma_->setValue(c.simpo_gamma);
    cpo_alpha_->setValue(c.cpo_alpha);
    model_->setText(QString::fromStdString(c.base_model));
    QStringList paths;
    for (const auto& d : c.datasets) paths << QString::fromStdString(d.path);
    datasets_->setText(paths.join(";"));
    dataset_type_->setCurrentIndex(dataset_type_->findData(QString::fromStdString(c.datasets.empty() ? "pretokenized" : c.datasets.front().type)));
    packing_->setChecked(c.sample_packing);
    val_size_->setValue(c.val_set_size);
    output_->setText(QString::fromStdString(c.output_dir));
    lora_r_->setValue(static_cast<int>(c.lora_r));
    lora_alpha_->setValue(c.lora_alpha);
    lora_dropout_->setValue(c.lora_dropout);
    all_linear_->setChecked(c.lora_target_linear);
    qlora_->setChecked(c.adapter == "qlora");
    if (!c.lora_target_modules.empty() || c.adapter == "lora") targets_->setText(joinList(c.lora_target_modules));
    unfrozen_->setText(joinList(c.unfrozen_parameters));
    epochs_->setValue(static_cast<int>(c.num_epochs));
    max_steps_->setValue(static_cast<int>(c.max_steps));
    micro_batch_->setValue(static_cast<int>(c.micro_batch_size));
    grad_accum_->setValue(static_cast<int>(c.gradient_accumulation_steps));
    seq_len_->setValue(static_cast<int>(c.sequence_len));
    lr_->setText(shortNumber(c.learning_rate));
    int s = scheduler_->findText(QString::fromStdString(c.lr_scheduler));
    scheduler_->setCurrentIndex(s >= 0 ? s : 0);
    warmup_->setValue(static_cast<int>(c.warmup_steps));
    weight_decay_->setValue(c.weight_decay);
    save_steps_->setValue(static_cast<int>(c.save_steps));
    eval_steps_->setValue(static_cast<int>(c.eval_steps));
    bf16_->setCurrentIndex(qMax(0, bf16_->findData(QString::fromStdString(c.bf16))));
    grad_ckpt_->setChecked(c.gradient_checkpointing);
    const QString dev = QString::fromStdString(c.device);
    if (device_->findData(dev) < 0) device_->addItem(dev, dev);
    device_->setCurrentIndex(device_->findData(dev));
    syncing_ = was;
    updateMethodOptions();
    if (!syncing_) formChanged();
}

void TrainPage::updateMethodOptions() {
    const Method m = method();
    const bool lora = m == Method::Lora || m == Method::RsLora || m == Method::Dora;
    lora_box_->setVisible(lora);
    lora_box_->setTitle(tr("Adapter: %1").arg(qlora_->isChecked() ? QString::fromStdString(lathe::method_label(config())) : methodName(m)));
    full_box_->setVisible(m == Method::Full);
    dataset_type_->setEnabled(m != Method::ContinuedPretraining);
    if (m == Method::ContinuedPretraining) {
        const bool was = syncing_;
        syncing_ = true;
        dataset_type_->setCurrentIndex(dataset_type_->findData("text"));
        syncing_ = was;
    }
    targets_->setEnabled(!all_linear_->isChecked());

    // Preference tuning: its options, the dataset types that hold pairs, no packing; the validation share holds
    // pairs out for TRL's evaluation (eval_loss, eval_rewards/...).
    const QString rl = objective_->currentData().toString();
    const bool preference = !rl.isEmpty();
    pref_box_->setVisible(preference);
    pref_box_->setTitle(tr("Preference: %1").arg(objective_->currentText().section(QString::fromUtf8(" — "), 0, 0)));
    pref_form_->setRowVisible(dpo_beta_, rl == "dpo" || rl == "ipo" || rl == "simpo");
    pref_form_->setRowVisible(label_smoothing_, rl == "dpo" || rl == "simpo");
    pref_form_->setRowVisible(orpo_alpha_, rl == "orpo");
    pref_form_->setRowVisible(simpo_gamma_, rl == "simpo");
    pref_form_->setRowVisible(cpo_alpha_, rl == "simpo");
    packing_->setEnabled(!preference);
    if (preference) {
        packing_->setToolTip(tr("pairs run unpacked: chosen and rejected of a pair share a batch"));
        val_size_->setToolTip(tr("share of pairs held out for the validation loss and reward accuracy"));
    } else {
        packing_->setToolTip(tr("several rows share each sequence_len row, each with its own positions and attention"));
        val_size_->setToolTip(tr("share of rows held out for the validation loss"));
    }
    auto* types = qobject_cast<QStandardItemModel*>(dataset_type_->model());
    const auto holdsPairs = [](const QString& type) { return type.isEmpty() || type == "chat_template.default" || type == "chatml.intel"; };
    for (int i = 0; i < dataset_type_->count(); ++i) {
        const QString type = dataset_type_->itemData(i).toString();
        const bool pairType = type == "chat_template.default" || type == "chatml.intel";
        if (types) types->item(i)->setEnabled(preference ? holdsPairs(type) : !pairType);
    }
    const QString type = dataset_type_->currentData().toString();
    if (m != Method::ContinuedPretraining && (preference ? !holdsPairs(type) : type == "chat_template.default" || type == "chatml.intel")) {
        const bool was = syncing_;
        syncing_ = true;
        dataset_type_->setCurrentIndex(dataset_type_->findData(QString()));  // TRL's prompt/chosen/rejected rows, or detected
        syncing_ = was;
    }
}

void TrainPage::applyPreset(const QString& name) {
    lathe::TrainConfig c = config();
    if (!lathe::apply_train_preset(c, name.toStdString())) return;
    setConfig(c);
    preset_->setCurrentIndex(preset_->findText(name));
}

QString TrainPage::yamlText() const { return yaml_->toPlainText(); }

void TrainPage::formChanged() {
    if (syncing_) return;
    updateMethodOptions();
    preset_->setCurrentIndex(0);
    form_problems_.clear();
    bool ok = false;
    const double lr = lr_->text().trimmed().toDouble(&ok);
    (void)lr;
    if (!ok) form_problems_ << tr("learning_rate: '%1' is not a number (e.g. 2e-4)").arg(lr_->text());
    if (method() == Method::ContinuedPretraining && !objective_->currentData().toString().isEmpty())
        form_problems_ << tr("rl: preference tuning trains on pairs, not raw text: choose LoRA, rsLoRA, DoRA or Full finetune as the method");
    const QString text = QString::fromStdString(lathe::train_config_yaml(config()));
    syncing_ = true;
    if (yaml_->toPlainText() != text) yaml_->setPlainText(text);
    syncing_ = false;
    scheduleValidation();
}

void TrainPage::yamlEdited() {
    if (syncing_) return;
    form_problems_.clear();
    preset_->setCurrentIndex(0);
    // The form follows the text once it parses (validateNow); until then the form keeps the last good values.
    setProperty("yamlEdited", true);
    scheduleValidation();
}

void TrainPage::scheduleValidation() {
    start_->setEnabled(false);
    validate_timer_->start();
}

QString TrainPage::resolvedPath(const QString& p) const { return QFileInfo(p).absoluteFilePath(); }

void TrainPage::validateNow() {
    validate_timer_->stop();
    const QString text = yaml_->toPlainText();
    const QString name = path_.isEmpty() ? QStringLiteral("run.yaml") : QFileInfo(path_).fileName();
    problems_ = form_problems_;
    std::optional<lathe::TrainConfig> valid;
    try {
        lathe::TrainConfig c = lathe::parse_train_config(text.toStdString(), name.toStdString());
        valid = c;
        if (property("yamlEdited").toBool()) {
            setProperty("yamlEdited", false);
            syncing_ = true;
            setConfig(c);
            syncing_ = false;
        }
        // What the parser cannot know: whether the files are there.
        const QString model = QString::fromStdString(c.base_model);
        if (!QFileInfo(model).isDir())
            problems_ << QString("%1:%2: base_model: %3 is not a folder").arg(name).arg(lineOfKey(text, "base_model")).arg(model);
        else if (!QFileInfo::exists(QDir(model).filePath("config.json")))
            problems_ << QString("%1:%2: base_model: no config.json in %3 (choose a Hugging Face model folder)").arg(name).arg(lineOfKey(text, "base_model")).arg(model);
        for (const auto& d : c.datasets) {
            const QString p = QString::fromStdString(d.path);
            if (!QFileInfo(p).isFile())
                problems_ << QString("%1:%2: datasets: %3 does not exist").arg(name).arg(lineContaining(text, p)).arg(p);
            else if (const QString why = datasetObjectiveProblem(d, !c.rl.empty()); !why.isEmpty())
                problems_ << QString("%1:%2: datasets: %3").arg(name).arg(lineContaining(text, p)).arg(why);
        }
    } catch (const lathe::Error& e) {
        QStringList lines = QString::fromUtf8(e.what()).split('\n');
        if (lines.size() > 1 && lines.first().contains(" problem")) lines.removeFirst();
        for (QString& l : lines) problems_ << l.trimmed();
    }
    showProblems();
    if (problems_.isEmpty() && valid) updateEstimate(*valid);
}

void TrainPage::showProblems() {
    for (QWidget* w : field_for_key_) {
        w->setStyleSheet({});
        w->setToolTip(w->property("baseTip").toString());
    }
    QList<QTextEdit::ExtraSelection> marks;
    static const QRegularExpression located(R"(^[^:]*:(\d+): ([A-Za-z_]+)[.:])");
    static const QRegularExpression keyOnly(R"(^(?:[^:]*: )?([A-Za-z_]+): )");
    for (const QString& p : problems_) {
        QRegularExpressionMatch m = located.match(p);
        QString key;
        if (m.hasMatch()) {
            key = m.captured(2);
            QTextEdit::ExtraSelection mark;
            mark.cursor = QTextCursor(yaml_->document()->findBlockByLineNumber(m.captured(1).toInt() - 1));
            mark.format.setBackground(QColor(255, 205, 210));
            mark.format.setProperty(QTextFormat::FullWidthSelection, true);
            marks << mark;
        } else if ((m = keyOnly.match(p)).hasMatch()) {
            key = m.captured(1);
        }
        if (QWidget* w = field_for_key_.value(key)) {
            if (!w->property("baseTip").isValid()) w->setProperty("baseTip", w->toolTip());
            w->setStyleSheet("border: 2px solid #d32f2f;");
            w->setToolTip(p);
        }
    }
    yaml_->setExtraSelections(marks);
    if (problems_.isEmpty()) {
        problems_label_->setText(tr("<span style='color:#2e7d32'>✔ The configuration is valid.</span>"));
    } else {
        QStringList items;
        for (const QString& p : problems_) items << "<li>" + p.toHtmlEscaped() + "</li>";
        problems_label_->setText(tr("<span style='color:#c62828'><b>%n problem(s):</b></span><ul style='margin:0'>%1</ul>", "", problems_.size())
                                     .arg(items.join("")));
    }
    start_->setEnabled(problems_.isEmpty());
    if (!problems_.isEmpty()) {
        estimate_.device_gib = -1;
        estimate_error_.clear();
        memory_->setText(tr("Memory estimate: once the configuration is valid."));
        memory_->setToolTip({});
    }
}

// Judged by the file's first row, as the trainer will read it: a preference objective needs pairs (chosen
// and rejected), supervised training needs anything else. Unreadable files are left to the trainer's
// own error (with their line), which names more than this could.
QString TrainPage::datasetObjectiveProblem(const lathe::DatasetSpec& d, bool preference) {
    if (d.type == "text" || d.type == "completion" || d.type == "pretokenized") return {};  // not read as pairs either way
    const QString path = QString::fromStdString(d.path);
    const QDateTime modified = QFileInfo(path).lastModified();
    auto cached = first_row_is_pair_.constFind(path);
    bool pair = false;
    std::string where;
    if (cached != first_row_is_pair_.constEnd() && cached->first == modified) {
        pair = cached->second;
    } else {
        struct Found {};
        std::optional<lathe::data::RawRow> first;
        try {
            lathe::data::read_rows(d.path, {}, [&](lathe::data::RawRow&& row) { first = std::move(row); throw Found{}; },
                                   [](lathe::data::Problem&&) {});
        } catch (const Found&) {
        } catch (const std::exception&) {
            return {};
        }
        if (!first) return {};
        const auto has = [&](const std::string& key) { return first->value.is_object() && first->value.contains(key); };
        pair = d.type.empty() || d.type == "chat_template" ? lathe::data::is_preference_row(first->value)
                                                           : has(d.field_chosen.empty() ? "chosen" : d.field_chosen) &&
                                                                 has(d.field_rejected.empty() ? "rejected" : d.field_rejected);
        first_row_is_pair_.insert(path, {modified, pair});
    }
    if (preference && !pair)
        return tr("%1 holds no preference pairs (its first row has no chosen and rejected answers): DPO, IPO, ORPO and SimPO "
                  "train on pairs; choose a file of pairs, or Supervised as the objective")
            .arg(path);
    if (!preference && pair)
        return tr("%1 holds preference pairs (chosen and rejected answers): choose DPO, IPO, ORPO or SimPO as the objective")
            .arg(path);
    return {};
}

struct TrainPage::ModelFacts {
    QString dir;
    QDateTime newest;  // the latest modification time of config.json and the safetensors files
    lathe::ModelConfig config;
    int64_t parameters = 0;
};

std::shared_ptr<const TrainPage::ModelFacts> TrainPage::modelFacts(const QString& dir) {
    QDateTime newest = QFileInfo(QDir(dir).filePath("config.json")).lastModified();
    for (const QFileInfo& f : QDir(dir).entryInfoList({"*.safetensors", "*.safetensors.index.json"}, QDir::Files))
        newest = std::max(newest, f.lastModified());
    if (model_facts_ && model_facts_->dir == dir && model_facts_->newest == newest) return model_facts_;
    auto facts = std::make_shared<ModelFacts>();
    facts->dir = dir;
    facts->newest = newest;
    facts->config = lathe::read_model_config(dir.toStdString());
    facts->parameters = lathe::summarize_model(dir.toStdString()).parameters;
    model_facts_ = facts;
    return facts;
}

// The estimate `lathe train --dry-run` prints, for the device chosen here: bf16: auto resolves as the run
// will, from the GPU's compute capability (nvidia-smi), so a bfloat16 run is not shown at float32's size.
// Several GPUs or CPU processes in "Train on": each rank's share (`--dry-run --world-size N`), the
// optimizer state and gradients divided as zero_stage shards them.
void TrainPage::updateEstimate(const lathe::TrainConfig& c) {
    estimate_ = {};
    estimate_error_.clear();
    const RankLaunch launch = ranks_->launch();
    estimate_ranks_ = std::max(1, launch.processes);
    const QString dev = QString::fromStdString(c.device);
    const bool cuda = dev.startsWith("cuda") || (dev == "auto" && !devices_->gpus().isEmpty());
    int major = -1;
    int index = dev.startsWith("cuda:") ? dev.mid(5).toInt() : 0;
    if (!launch.cuda_visible_devices.isEmpty()) index = launch.cuda_visible_devices.section(',', 0, 0).toInt();  // the ranks' GPUs are alike
    for (const GpuInfo& g : devices_->gpus())
        if (g.index == index) major = g.compute_major;
    const bool bf16 = lathe::resolve_bf16(c.bf16, cuda, major);
    try {
        const auto facts = modelFacts(QString::fromStdString(c.base_model));
        lathe::TrainConfig on_device = c;  // device: auto resolved as the run resolves it (what dropout keeps differs on the CPU)
        if (on_device.device == "auto") on_device.device = cuda ? "cuda" : "cpu";
        estimate_ = describeMemoryEstimate(lathe::estimate_training_memory(on_device, facts->config, facts->parameters, bf16, estimate_ranks_), bf16);
    } catch (const std::exception& e) {
        estimate_error_ = QString::fromUtf8(e.what());
    }
    showMemory();
}

QString TrainPage::memoryText() const { return memory_->text(); }

void TrainPage::showMemory() {
    memory_->setToolTip(estimate_.details);
    if (!estimate_error_.isEmpty()) {
        memory_->setText(tr("<span style='color:#c62828'>Memory estimate failed: %1</span>").arg(estimate_error_.toHtmlEscaped()));
        return;
    }
    fits_ = -1;
    if (estimate_.device_gib < 0) return;
    const QString dev = device_->currentData().toString();
    QString where;
    double free = -1;
    const bool on_cpu = dev == "cpu" || (dev == "auto" && devices_->gpusKnown() && devices_->gpus().isEmpty());
    if (on_cpu) {
        where = tr("free system memory (CPU)");
        free = DeviceMemory::cpuAvailableGiB();
    } else {
        // The GPUs the ranks run on ("Train on"), or the one the device names: the least free memory counts.
        const QString chosen = ranks_->launch().cuda_visible_devices;
        QList<int> indices;
        for (const QString& id : chosen.split(',', Qt::SkipEmptyParts)) indices << id.toInt();
        if (indices.isEmpty()) indices << (dev.startsWith("cuda:") ? dev.mid(5).toInt() : 0);
        for (const GpuInfo& g : devices_->gpus())
            if (indices.contains(g.index) && (free < 0 || g.free_gib < free)) {
                where = indices.size() > 1 ? tr("free on the least free of GPUs %1 (GPU %2, %3)").arg(chosen).arg(g.index).arg(g.name)
                                           : tr("free on GPU %1 (%2)").arg(g.index).arg(g.name);
                free = g.free_gib;
            }
        if (free < 0) where = devices_->nvidiaSmiPresent() ? tr("GPU free memory unknown (nvidia-smi did not answer)")
                                                           : tr("GPU free memory unknown (nvidia-smi not found)");
    }
    // CPU ranks share this machine's memory, each with a whole model: all ranks' shares together.
    const int cpu_ranks = on_cpu ? ranks_->launch().processes : 1;
    const bool per_rank = estimate_ranks_ > 1 && !on_cpu;
    const double need = cpu_ranks > 1 && estimate_ranks_ == cpu_ranks ? estimate_.all_ranks_gib : estimate_.device_gib * cpu_ranks;
    QString text = need < 0.01 ? tr("Memory estimate: <b>under 0.01 GiB</b>") : tr("Memory estimate: <b>%1 GiB</b>").arg(need, 0, 'f', 2);
    if (per_rank) text += tr(" per rank (%1 ranks, %2)").arg(estimate_ranks_).arg(estimate_.rank_summary);
    if (cpu_ranks > 1) text += tr(" (%1 processes)").arg(cpu_ranks) + (estimate_.rank_summary.isEmpty() ? QString() : tr("; %1").arg(estimate_.rank_summary));
    if (free < 0) {
        text += tr(" · %1.").arg(where);
    } else if ((fits_ = need <= free ? 1 : 0)) {
        text += tr(" of %1 GiB %2 — <span style='color:#2e7d32'>fits</span>.").arg(free, 0, 'f', 1).arg(where);
    } else {
        text += tr(" of %1 GiB %2 — <span style='color:#c62828'><b>does not fit</b></span>: lower micro-batch size or sequence length, "
                   "turn on gradient checkpointing or bf16, or use an adapter.").arg(free, 0, 'f', 1).arg(where);
    }
    memory_->setText(text);
}

bool TrainPage::loadConfig(const QString& path) {
    try {
        lathe::TrainConfig c = lathe::read_train_config(path.toStdString());
        path_ = path;
        setConfig(c);
        validateNow();
        return true;
    } catch (const lathe::Error& e) {
        QMessageBox::warning(this, tr("Cannot load the run configuration"), QString::fromUtf8(e.what()));
        return false;
    }
}

bool TrainPage::saveConfig(const QString& path) {
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly) || f.write(yaml_->toPlainText().toUtf8()) < 0 || !f.commit()) {
        QMessageBox::warning(this, tr("Cannot save"), tr("Cannot write %1: %2").arg(path, f.errorString()));
        return false;
    }
    path_ = path;
    QSettings().setValue("train/lastConfig", yaml_->toPlainText());
    return true;
}

QString TrainPage::demoConfigName(const QString& resourcesDir) {
    return QFileInfo::exists(QDir(resourcesDir).filePath("smollm2-135m-instruct/config.json")) ? "run-smollm2.yaml" : "run.yaml";
}

bool TrainPage::loadDemo(const QString& resourcesDir) { return loadDemo(resourcesDir, demoConfigName(resourcesDir)); }

bool TrainPage::loadDemo(const QString& resourcesDir, const QString& configName) {
    const QString file = QDir(resourcesDir).filePath("demo-data/" + configName);
    try {
        lathe::TrainConfig c = lathe::read_train_config(file.toStdString());
        // The demo's paths are relative to the repository (where packaging/demo.sh runs the CLI).
        const QDir root(QDir(resourcesDir).filePath(".."));
        c.base_model = QDir::cleanPath(root.absoluteFilePath(QString::fromStdString(c.base_model))).toStdString();
        for (auto& d : c.datasets) d.path = QDir::cleanPath(root.absoluteFilePath(QString::fromStdString(d.path))).toStdString();
        c.output_dir = QDir(QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation))
                           .filePath("demo-runs/" + QDateTime::currentDateTime().toString("yyyyMMdd-HHmmss"))
                           .toStdString();
        path_.clear();
        setConfig(c);
        validateNow();
        return true;
    } catch (const lathe::Error& e) {
        QMessageBox::warning(this, tr("Cannot load the demo"), QString::fromUtf8(e.what()));
        return false;
    }
}

void TrainPage::start() {
    validateNow();
    if (!problems_.isEmpty()) {
        QMessageBox::warning(this, tr("Fix the configuration first"), problems_.join("\n"));
        return;
    }
    if (fits_ == 0 && QMessageBox::question(this, tr("The run may not fit"),
                                            memory_->text() + tr("<br><br>Start anyway?")) != QMessageBox::Yes)
        return;
    // The run gets its own copy: the user's file keeps its comments and layout, and the run's config
    // stays as it was started even if the form changes.
    const QString dir = QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation) + "/configs";
    QDir().mkpath(dir);
    const QString path = dir + "/run-" + QDateTime::currentDateTime().toString("yyyyMMdd-HHmmss-zzz") + ".yaml";
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly) || f.write(yaml_->toPlainText().toUtf8()) < 0 || !f.commit()) {
        QMessageBox::warning(this, tr("Cannot save"), tr("Cannot write %1: %2").arg(path, f.errorString()));
        return;
    }
    QSettings().setValue("train/lastConfig", yaml_->toPlainText());
    emit startRequested(path, ranks_->launch());
}
