#include "ui/pages/chat_page.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QShortcut>
#include <QSpinBox>
#include <QTextDocument>
#include <QTextOption>
#include <QVBoxLayout>

#include "core/runs/run_reader.h"

namespace {

QString q(const std::string& s) { return QString::fromStdString(s); }

QString canonical(const QString& dir) {
    QString c = QFileInfo(dir).canonicalFilePath();
    return c.isEmpty() ? QDir::cleanPath(dir) : c;
}

// A checkpoint of a LoRA run is a PEFT adapter; one of a full finetune is a whole model folder.
bool isAdapterFolder(const QString& dir) { return QFileInfo::exists(dir + "/adapter_config.json"); }

QDoubleSpinBox* doubleSpin(double min, double max, double step, double value, QWidget* parent) {
    auto* s = new QDoubleSpinBox(parent);
    s->setRange(min, max);
    s->setSingleStep(step);
    s->setDecimals(2);
    s->setValue(value);
    return s;
}

}  // namespace

ChatPage::ChatPage(const lathe::RunReader& runs, QWidget* parent) : QWidget(parent), runs_(runs) {
    // What to compare: a base model and a checkpoint of it.
    model_ = new QComboBox(this);
    model_->setObjectName("chatModel");
    model_->setEditable(true);
    model_->setInsertPolicy(QComboBox::NoInsert);
    model_->lineEdit()->setPlaceholderText(tr("model folder"));
    model_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    auto* browse_model = new QPushButton(tr("Browse…"), this);
    connect(browse_model, &QPushButton::clicked, this, &ChatPage::chooseModel);
    connect(model_, &QComboBox::currentTextChanged, this, [this] {
        refreshCheckpoints();
        updateButtons();
    });
    adapter_ = new QComboBox(this);
    adapter_->setObjectName("chatAdapter");
    adapter_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    adapter_->setMinimumContentsLength(30);
    auto* browse_adapter = new QPushButton(tr("Browse…"), this);
    connect(browse_adapter, &QPushButton::clicked, this, &ChatPage::chooseAdapter);
    connect(adapter_, &QComboBox::currentIndexChanged, this, &ChatPage::updateButtons);
    auto* pick = new QFormLayout;
    auto* model_row = new QHBoxLayout;
    model_row->addWidget(model_, 1);
    model_row->addWidget(browse_model);
    auto* adapter_row = new QHBoxLayout;
    adapter_row->addWidget(adapter_, 1);
    adapter_row->addWidget(browse_adapter);
    pick->addRow(tr("Base model:"), model_row);
    pick->addRow(tr("Checkpoint:"), adapter_row);

    // Sampling settings, as `lathe generate` takes them.
    auto* sampling = new QGroupBox(tr("Sampling"), this);
    auto* form = new QFormLayout(sampling);
    greedy_ = new QCheckBox(tr("Greedy (always the most likely token)"), sampling);
    temperature_ = doubleSpin(0.01, 5.0, 0.05, 0.8, sampling);
    top_k_ = new QSpinBox(sampling);
    top_k_->setRange(0, 1000000);
    top_k_->setSpecialValueText(tr("off"));
    top_k_->setValue(40);
    top_p_ = doubleSpin(0.01, 1.0, 0.05, 0.95, sampling);
    max_new_tokens_ = new QSpinBox(sampling);
    max_new_tokens_->setRange(1, 32768);
    max_new_tokens_->setValue(128);
    repetition_penalty_ = doubleSpin(1.0, 3.0, 0.05, 1.0, sampling);
    seed_ = new QSpinBox(sampling);
    seed_->setRange(0, 1 << 30);
    seed_->setToolTip(tr("The same seed and settings give the same text; both columns use it"));
    greedy_->setObjectName("greedy");
    temperature_->setObjectName("temperature");
    top_k_->setObjectName("topK");
    top_p_->setObjectName("topP");
    max_new_tokens_->setObjectName("maxNewTokens");
    repetition_penalty_->setObjectName("repetitionPenalty");
    seed_->setObjectName("seed");
    form->addRow(greedy_);
    form->addRow(tr("Temperature:"), temperature_);
    form->addRow(tr("Top-k:"), top_k_);
    form->addRow(tr("Top-p:"), top_p_);
    form->addRow(tr("Max new tokens:"), max_new_tokens_);
    form->addRow(tr("Repetition penalty:"), repetition_penalty_);
    form->addRow(tr("Seed:"), seed_);
    connect(greedy_, &QCheckBox::toggled, this, [this](bool on) {
        for (QWidget* w : {static_cast<QWidget*>(temperature_), static_cast<QWidget*>(top_k_), static_cast<QWidget*>(top_p_),
                           static_cast<QWidget*>(seed_)})
            w->setEnabled(!on);
    });

    // The two answers.
    QWidget* base_box = nullptr;
    QWidget* tuned_box = nullptr;
    base_ = makeColumn(tr("Base model"), this, &base_box);
    tuned_ = makeColumn(tr("With checkpoint"), this, &tuned_box);
    base_.output->setObjectName("baseOutput");
    tuned_.output->setObjectName("tunedOutput");
    connectColumn(base_);
    connectColumn(tuned_);
    auto* columns = new QHBoxLayout;
    columns->addWidget(base_box, 1);
    columns->addWidget(tuned_box, 1);

    // The prompt.
    prompt_ = new QPlainTextEdit(this);
    prompt_->setObjectName("chatPrompt");
    prompt_->setPlaceholderText(tr("Prompt — Ctrl+Enter generates from both, Esc stops"));
    prompt_->setFixedHeight(prompt_->fontMetrics().lineSpacing() * 4 + 12);
    chat_ = new QCheckBox(tr("Use the chat template"), this);
    chat_->setChecked(true);
    chat_->setToolTip(tr("Send the prompt as a user message through the model's chat template"));
    generate_ = new QPushButton(tr("Generate"), this);
    generate_->setDefault(true);
    stop_ = new QPushButton(tr("Stop"), this);
    connect(generate_, &QPushButton::clicked, this, &ChatPage::generate);
    connect(stop_, &QPushButton::clicked, this, &ChatPage::stop);
    for (auto key : {Qt::CTRL | Qt::Key_Return, Qt::CTRL | Qt::Key_Enter})
        connect(new QShortcut(QKeySequence(key), this, nullptr, nullptr, Qt::WidgetWithChildrenShortcut), &QShortcut::activated, this,
                &ChatPage::generate);
    connect(new QShortcut(QKeySequence(Qt::Key_Escape), this, nullptr, nullptr, Qt::WidgetWithChildrenShortcut), &QShortcut::activated,
            this, &ChatPage::stop);
    // Stray newlines and spaces are what finetuning most often gets wrong, and they are invisible.
    auto* whitespace = new QCheckBox(tr("Show whitespace"), this);
    whitespace->setObjectName("showWhitespace");
    connect(whitespace, &QCheckBox::toggled, this, [this](bool on) {
        for (QPlainTextEdit* e : {base_.output, tuned_.output}) {
            QTextOption o = e->document()->defaultTextOption();
            o.setFlags(on ? QTextOption::ShowTabsAndSpaces | QTextOption::ShowLineAndParagraphSeparators : QTextOption::Flags());
            e->document()->setDefaultTextOption(o);
        }
    });
    auto* buttons = new QVBoxLayout;
    buttons->addWidget(chat_);
    buttons->addWidget(whitespace);
    buttons->addWidget(generate_);
    buttons->addWidget(stop_);
    buttons->addStretch(1);
    auto* prompt_row = new QHBoxLayout;
    prompt_row->addWidget(prompt_, 1);
    prompt_row->addLayout(buttons);

    auto* right = new QVBoxLayout;
    right->addLayout(columns, 1);
    right->addLayout(prompt_row);
    auto* left = new QVBoxLayout;
    left->addWidget(sampling);
    left->addStretch(1);
    auto* body = new QHBoxLayout;
    body->addLayout(left);
    body->addLayout(right, 1);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(pick);
    layout->addLayout(body, 1);

    refreshCheckpoints();
    updateButtons();
}

ChatPage::Column ChatPage::makeColumn(const QString& title, QWidget* parent, QWidget** box) {
    auto* group = new QGroupBox(title, parent);
    auto* v = new QVBoxLayout(group);
    Column c{new GenerateProcess(this), new QPlainTextEdit(group), new QLabel(group)};
    c.output->setReadOnly(true);
    c.status->setWordWrap(true);
    v->addWidget(c.output, 1);
    v->addWidget(c.status);
    *box = group;
    return c;
}

void ChatPage::connectColumn(Column& column) {
    // Column is copied into the lambdas by value: its members are pointers owned by this page.
    Column c = column;
    connect(c.process, &GenerateProcess::textAdded, this, [c](const QString& piece) {
        c.output->moveCursor(QTextCursor::End);
        c.output->insertPlainText(piece);
    });
    connect(c.process, &GenerateProcess::finished, this, [this, c](const QString& text, const QString& reason) {
        if (!text.isEmpty()) c.output->setPlainText(text);  // the final text, cut at stop strings
        c.status->setText(tr("Done (%1).").arg(reason));
        updateButtons();
    });
    connect(c.process, &GenerateProcess::failed, this, [this, c](const QString& why) {
        c.status->setText(tr("Failed: %1").arg(why));
        updateButtons();
    });
    connect(c.process, &GenerateProcess::cancelled, this, [this, c] {
        c.status->setText(tr("Stopped."));
        updateButtons();
    });
}

void ChatPage::setModel(const QString& dir) {
    if (model_->findText(dir) < 0) model_->insertItem(0, dir);
    model_->setCurrentText(dir);
}

QString ChatPage::model() const { return model_->currentText().trimmed(); }

void ChatPage::setRecentModels(const QStringList& dirs) {
    QString current = model_->currentText();
    QSignalBlocker block(model_);
    model_->clear();
    model_->addItems(dirs);
    model_->setCurrentText(current);
}

void ChatPage::setAdapter(const QString& dir) {
    int i = adapter_->findData(dir);
    if (i < 0 && !dir.isEmpty()) {
        chosen_adapters_.removeAll(dir);
        chosen_adapters_.prepend(dir);
        adapter_->addItem(dir, dir);
        i = adapter_->count() - 1;
    }
    adapter_->setCurrentIndex(std::max(i, 0));
}

QString ChatPage::adapter() const { return adapter_->currentData().toString(); }

void ChatPage::refreshCheckpoints() {
    QString keep = adapter();
    QSignalBlocker block(adapter_);
    adapter_->clear();
    adapter_->addItem(tr("None — the base model only"), QString());
    // The checkpoints of the runs that trained this model, newest first.
    if (!model().isEmpty()) {
        try {
            auto runs = runs_.list_runs();
            std::sort(runs.begin(), runs.end(), [](const auto& a, const auto& b) { return a.id > b.id; });
            const QString base = canonical(model());
            for (const lathe::RunRecord& r : runs) {
                if (canonical(q(r.model)) != base) continue;
                auto checkpoints = runs_.checkpoints(r.id);
                for (auto it = checkpoints.rbegin(); it != checkpoints.rend(); ++it) {
                    if (!QFileInfo::exists(q(it->path))) continue;  // removed by save_total_limit
                    adapter_->addItem(tr("run %1 (%2), step %3").arg(r.id).arg(q(r.name)).arg(it->step), q(it->path));
                    adapter_->setItemData(adapter_->count() - 1, q(it->path), Qt::ToolTipRole);
                }
            }
        } catch (const std::exception& e) {
            emit statusMessage(tr("Cannot read the run store: %1").arg(QString::fromUtf8(e.what())));
        }
    }
    for (const QString& dir : chosen_adapters_)  // folders chosen by hand stay offered
        if (adapter_->findData(dir) < 0) adapter_->addItem(dir, dir);
    adapter_->setCurrentIndex(std::max(adapter_->findData(keep), 0));
}

void ChatPage::chooseModel() {
    QString dir = QFileDialog::getExistingDirectory(this, tr("Base Model Folder"), model());
    if (!dir.isEmpty()) setModel(dir);
}

void ChatPage::chooseAdapter() {
    QString dir = QFileDialog::getExistingDirectory(this, tr("Checkpoint or PEFT Adapter Folder"), adapter().isEmpty() ? model() : adapter());
    if (!dir.isEmpty()) setAdapter(dir);
}

GenerateRequest ChatPage::request() const {
    GenerateRequest r;
    r.model_dir = model();
    r.prompt = prompt_->toPlainText();
    r.chat = chat_->isChecked();
    r.max_new_tokens = max_new_tokens_->value();
    r.greedy = greedy_->isChecked();
    r.temperature = temperature_->value();
    r.top_k = top_k_->value();
    r.top_p = top_p_->value();
    r.repetition_penalty = repetition_penalty_->value();
    r.seed = static_cast<quint64>(seed_->value());
    return r;
}

void ChatPage::generate() {
    if (isGenerating() || model().isEmpty()) return;
    if (prompt_->toPlainText().trimmed().isEmpty()) {
        base_.status->setText(tr("Type a prompt first."));
        return;
    }
    GenerateRequest base = request();
    base_.output->clear();
    base_.status->setText(tr("Loading the model and generating…"));
    base_.process->start(base);
    tuned_.output->clear();
    if (QString checkpoint = adapter(); !checkpoint.isEmpty()) {
        GenerateRequest tuned = base;
        if (isAdapterFolder(checkpoint)) tuned.adapter_dir = checkpoint;
        else tuned.model_dir = checkpoint;  // a full finetune's checkpoint is a model folder of its own
        tuned_.status->setText(tr("Loading the checkpoint and generating…"));
        tuned_.process->start(tuned);
    } else {
        tuned_.status->setText(tr("Pick a checkpoint above to compare with the base model."));
    }
    updateButtons();
}

void ChatPage::stop() {
    base_.process->cancel();
    tuned_.process->cancel();
}

bool ChatPage::isGenerating() const { return base_.process->isRunning() || tuned_.process->isRunning(); }

void ChatPage::updateButtons() {
    generate_->setEnabled(!isGenerating() && !model().isEmpty());
    stop_->setEnabled(isGenerating());
}
