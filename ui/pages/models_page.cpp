#include "ui/pages/models_page.h"

#include <QCheckBox>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMessageBox>
#include <QMimeData>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QSplitter>
#include <QStackedWidget>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include "core/models/model_summary.h"
#include "core/util/error.h"
#include "ui/generate_process.h"
#include "ui/hf_cache.h"
#include "ui/model_summary_view.h"

namespace {
constexpr int kRecentKept = 10;
constexpr int kPathRole = Qt::UserRole;

QLabel* heading(const QString& text, QWidget* parent) {
    auto* label = new QLabel(text, parent);
    QFont f = label->font();
    f.setBold(true);
    label->setFont(f);
    return label;
}
}  // namespace

ModelsPage::ModelsPage(QWidget* parent) : QWidget(parent), process_(new GenerateProcess(this)) {
    setAcceptDrops(true);

    // Left: where models come from.
    auto* sources = new QWidget(this);
    auto* left = new QVBoxLayout(sources);
    auto* open = new QPushButton(tr("Open Model Folder…"), sources);
    connect(open, &QPushButton::clicked, this, &ModelsPage::chooseModel);
    hub_label_ = new QLabel(sources);
    hub_label_->setWordWrap(true);
    hub_label_->setForegroundRole(QPalette::PlaceholderText);
    hub_list_ = new QListWidget(sources);
    hub_list_->setObjectName("hubList");
    recent_list_ = new QListWidget(sources);
    recent_list_->setObjectName("recentList");
    auto open_item = [this](QListWidgetItem* item) { openModel(item->data(kPathRole).toString()); };
    connect(hub_list_, &QListWidget::itemActivated, this, open_item);
    connect(recent_list_, &QListWidget::itemActivated, this, open_item);
    left->addWidget(open);
    left->addWidget(heading(tr("Hugging Face cache"), sources));
    left->addWidget(hub_label_);
    left->addWidget(hub_list_, 1);
    left->addWidget(heading(tr("Recent models"), sources));
    left->addWidget(recent_list_, 1);

    // Right: the model, and a prompt to try it with.
    summary_ = new ModelSummaryView(this);
    auto* try_box = new QGroupBox(tr("Try it"), this);
    auto* try_layout = new QVBoxLayout(try_box);
    auto* prompt_row = new QHBoxLayout;
    prompt_ = new QLineEdit(try_box);
    prompt_->setPlaceholderText(tr("A prompt to continue; Enter generates, Esc stops"));
    use_chat_ = new QCheckBox(tr("Chat template"), try_box);
    use_chat_->setToolTip(tr("Send the prompt as a user message through the model's chat template"));
    max_tokens_ = new QSpinBox(try_box);
    max_tokens_->setRange(1, 4096);
    max_tokens_->setValue(64);
    max_tokens_->setSuffix(tr(" tokens"));
    generate_ = new QPushButton(tr("Generate"), try_box);
    stop_ = new QPushButton(tr("Stop"), try_box);
    stop_->setShortcut(Qt::Key_Escape);
    prompt_row->addWidget(prompt_, 1);
    prompt_row->addWidget(use_chat_);
    prompt_row->addWidget(max_tokens_);
    prompt_row->addWidget(generate_);
    prompt_row->addWidget(stop_);
    output_ = new QPlainTextEdit(try_box);
    output_->setObjectName("tryOutput");
    output_->setReadOnly(true);
    output_->setPlaceholderText(tr("The model's continuation appears here as it is generated."));
    try_status_ = new QLabel(try_box);
    try_status_->setWordWrap(true);
    try_layout->addLayout(prompt_row);
    try_layout->addWidget(output_, 1);
    try_layout->addWidget(try_status_);
    connect(prompt_, &QLineEdit::returnPressed, this, &ModelsPage::startTryIt);
    connect(generate_, &QPushButton::clicked, this, &ModelsPage::startTryIt);
    connect(stop_, &QPushButton::clicked, this, &ModelsPage::stopTryIt);
    connect(process_, &GenerateProcess::textAdded, this, [this](const QString& piece) {
        output_->moveCursor(QTextCursor::End);
        output_->insertPlainText(piece);
    });
    connect(process_, &GenerateProcess::finished, this, [this](const QString& text, const QString& reason) {
        if (!text.isEmpty()) output_->setPlainText(text);  // the final text, cut at stop strings
        try_status_->setText(tr("Done (%1).").arg(reason));
        setGenerating(false);
    });
    connect(process_, &GenerateProcess::failed, this, [this](const QString& why) {
        try_status_->setText(tr("Generation failed: %1").arg(why));
        setGenerating(false);
    });
    connect(process_, &GenerateProcess::cancelled, this, [this] {
        try_status_->setText(tr("Stopped."));
        setGenerating(false);
    });
    setGenerating(false);

    details_ = new QWidget(this);
    auto* details_layout = new QVBoxLayout(details_);
    details_layout->setContentsMargins(0, 0, 0, 0);
    details_layout->addWidget(summary_, 3);
    details_layout->addWidget(try_box, 2);
    auto* empty = new QLabel(tr("Open a Hugging Face model folder (config.json and *.safetensors), drop one here,\n"
                                "or pick one from the Hugging Face cache or the recent models on the left."),
                             this);
    empty->setAlignment(Qt::AlignCenter);
    empty_ = empty;
    view_stack_ = new QStackedWidget(this);
    view_stack_->addWidget(empty_);
    view_stack_->addWidget(details_);

    auto* split = new QSplitter(this);
    split->addWidget(sources);
    split->addWidget(view_stack_);
    split->setStretchFactor(1, 1);
    split->setSizes({280, 1000});
    split->setChildrenCollapsible(false);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(split);

    connect(&tokenizer_watcher_, &QFutureWatcher<TokenizerFacts>::finished, this, [this] {
        TokenizerFacts facts = tokenizer_watcher_.result();
        summary_->showTokenizer(facts);
        use_chat_->setEnabled(!facts.chat_template.isEmpty());
        use_chat_->setChecked(!facts.chat_template.isEmpty());
    });

    recent_ = QSettings().value("recentModels").toStringList();
    fillRecentList();
    scanHubCache(huggingFaceHubCache());
}

void ModelsPage::scanHubCache(const QString& hub) {
    hub_list_->clear();
    const QVector<CachedModel> models = scanHuggingFaceCache(hub);
    for (const CachedModel& m : models) {
        auto* item = new QListWidgetItem(tr("%1  (%2)").arg(m.repo_id, m.revision.left(8)), hub_list_);
        item->setData(kPathRole, m.path);
        item->setToolTip(m.path);
    }
    hub_label_->setText(models.isEmpty() ? tr("No models in %1").arg(hub) : (models.size() == 1 ? tr("1 model in %1") : tr("%1 models in %2").arg(models.size())).arg(hub));
    hub_list_->setVisible(!models.isEmpty());  // no empty box: the recent list takes the room
}

void ModelsPage::chooseModel() {
    QString dir = QFileDialog::getExistingDirectory(this, tr("Open Model Folder"), recent_.value(0));
    if (!dir.isEmpty()) openModel(dir);
}

bool ModelsPage::openModel(const QString& dir) {
    lathe::ModelSummary s;
    try {
        // Reads config.json and the safetensors headers only: instant even for large models.
        s = lathe::summarize_model(dir.toStdString());
    } catch (const lathe::Error& e) {
        QMessageBox::warning(this, tr("Cannot open model"), QString::fromStdString(e.what()));
        emit statusMessage(tr("Could not open %1").arg(dir));
        return false;
    }
    if (process_->isRunning()) process_->cancel();
    current_ = dir;
    summary_->showSummary(s);
    output_->clear();
    try_status_->clear();
    view_stack_->setCurrentWidget(details_);
    // The tokenizer's vocabulary can take a moment to parse: off the UI thread.
    tokenizer_watcher_.setFuture(QtConcurrent::run(readTokenizerFacts, dir));
    setGenerating(false);
    rememberRecent(dir);
    emit modelOpened(dir);
    emit statusMessage(tr("Opened %1").arg(dir));
    return true;
}

void ModelsPage::rememberRecent(const QString& dir) {
    recent_.removeAll(dir);
    recent_.prepend(dir);
    while (recent_.size() > kRecentKept) recent_.removeLast();
    QSettings().setValue("recentModels", recent_);
    fillRecentList();
    emit recentModelsChanged(recent_);
}

void ModelsPage::fillRecentList() {
    recent_list_->clear();
    for (const QString& dir : recent_) {
        auto* item = new QListWidgetItem(QFileInfo(dir).fileName(), recent_list_);
        item->setData(kPathRole, dir);
        item->setToolTip(dir);
    }
}

void ModelsPage::startTryIt() {
    if (current_.isEmpty() || process_->isRunning()) return;
    if (prompt_->text().isEmpty()) {
        try_status_->setText(tr("Type a prompt first."));
        return;
    }
    GenerateRequest r;
    r.model_dir = current_;
    r.prompt = prompt_->text();
    r.chat = use_chat_->isEnabled() && use_chat_->isChecked();
    r.max_new_tokens = max_tokens_->value();
    r.temperature = 0.8;  // lively but coherent; the Chat page has every sampling setting
    r.top_p = 0.95;
    output_->clear();
    try_status_->setText(tr("Loading the model and generating…"));
    setGenerating(true);
    process_->start(r);
}

void ModelsPage::stopTryIt() { process_->cancel(); }

void ModelsPage::setGenerating(bool on) {
    generate_->setEnabled(!on && !current_.isEmpty());
    stop_->setEnabled(on);
}

void ModelsPage::dragEnterEvent(QDragEnterEvent* event) {
    const QList<QUrl> urls = event->mimeData()->urls();
    if (urls.size() == 1 && urls.first().isLocalFile() && QFileInfo(urls.first().toLocalFile()).isDir()) event->acceptProposedAction();
}

void ModelsPage::dropEvent(QDropEvent* event) {
    openModel(event->mimeData()->urls().first().toLocalFile());
    event->acceptProposedAction();
}
