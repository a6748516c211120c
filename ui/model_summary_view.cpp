#include "ui/model_summary_view.h"

#include <QFontDatabase>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLocale>
#include <QPlainTextEdit>
#include <QVBoxLayout>

namespace {
QString number(int64_t n) { return QLocale().toString(static_cast<qlonglong>(n)); }

void addRow(QFormLayout* form, const QString& label, const QString& value) {
    auto* v = new QLabel(value);
    v->setTextInteractionFlags(Qt::TextSelectableByMouse);
    v->setWordWrap(true);
    form->addRow(label, v);
}

void clear(QFormLayout* form) {
    while (form->rowCount() > 0) form->removeRow(0);
}
}  // namespace

ModelSummaryView::ModelSummaryView(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    title_ = new QLabel(this);
    QFont font = title_->font();
    font.setPointSizeF(font.pointSizeF() * 1.6);
    font.setBold(true);
    title_->setFont(font);
    path_ = new QLabel(this);
    path_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    path_->setWordWrap(true);

    auto* model_box = new QGroupBox(tr("Model"), this);
    form_ = new QFormLayout(model_box);
    form_->setLabelAlignment(Qt::AlignRight);
    auto* tokenizer_box = new QGroupBox(tr("Tokenizer"), this);
    tokenizer_form_ = new QFormLayout(tokenizer_box);
    tokenizer_form_->setLabelAlignment(Qt::AlignRight);
    auto* boxes = new QHBoxLayout;
    boxes->addWidget(model_box, 1);
    boxes->addWidget(tokenizer_box, 1);

    template_box_ = new QGroupBox(tr("Chat template"), this);
    auto* template_layout = new QVBoxLayout(template_box_);
    template_ = new QPlainTextEdit(template_box_);
    template_->setObjectName("chatTemplate");
    template_->setReadOnly(true);
    template_->setLineWrapMode(QPlainTextEdit::NoWrap);
    template_->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    template_layout->addWidget(template_);

    layout->addWidget(title_);
    layout->addWidget(path_);
    layout->addLayout(boxes);
    layout->addWidget(template_box_, 1);
}

void ModelSummaryView::showSummary(const lathe::ModelSummary& s) {
    title_->setText(tr("%1 — %2").arg(QString::fromStdString(s.architecture), QString::fromStdString(lathe::human_count(s.parameters))));
    path_->setText(QString::fromStdString(s.dir));
    clear(form_);
    auto row = [this](const QString& label, const QString& value) { addRow(form_, label, value); };
    row(tr("Architecture:"), tr("%1 (%2), %3").arg(QString::fromStdString(s.architecture), QString::fromStdString(s.model_type),
                                                  QString::fromStdString(s.task)));
    row(tr("Parameters:"), tr("%1 (%2)").arg(QString::fromStdString(lathe::human_count(s.parameters)), number(s.parameters)));
    row(tr("Weights dtype:"), QString::fromStdString(s.dtype));
    if (!s.quantization.empty()) row(tr("Quantization:"), QString::fromStdString(s.quantization));  // a 4-bit checkpoint
    row(tr("Size on disk:"), (s.files == 1 ? tr("%1 in 1 file") : tr("%1 in %2 files").arg("%1", number(s.files)))
                                 .arg(QString::fromStdString(lathe::human_bytes(s.size_bytes))));
    row(tr("Context length:"), tr("%1 positions").arg(number(s.context_length)));
    row(tr("Layers:"), number(s.layers));
    row(tr("Hidden size:"), tr("%1 (MLP %2)").arg(number(s.hidden_size), number(s.intermediate_size)));
    row(tr("Attention:"), tr("%1 heads, %2 key/value heads, head dim %3").arg(number(s.heads), number(s.kv_heads), number(s.head_dim)));
    row(tr("Vocabulary:"), s.tied_embeddings ? tr("%1 (tied to the output layer)").arg(number(s.vocab_size)) : number(s.vocab_size));
    if (!s.rope.empty()) row(tr("RoPE:"), QString::fromStdString(s.rope));
    showTokenizerLoading();
}

void ModelSummaryView::showTokenizerLoading() {
    clear(tokenizer_form_);
    addRow(tokenizer_form_, tr("Tokenizer:"), tr("reading…"));
    template_->clear();
}

void ModelSummaryView::showTokenizer(const TokenizerFacts& f) {
    clear(tokenizer_form_);
    auto row = [this](const QString& label, const QString& value) { addRow(tokenizer_form_, label, value); };
    if (!f.found) {
        row(tr("Tokenizer:"), tr("none in this folder (tokenizer.json or tokenizer.model); prompts are token ids"));
    } else if (!f.error.isEmpty()) {
        row(tr("Tokenizer:"), tr("cannot be read: %1").arg(f.error));
    } else {
        row(tr("Type:"), f.type);
        row(tr("Vocabulary:"), tr("%1 tokens").arg(number(f.vocab_size)));
        row(tr("File:"), f.file);
        if (f.model_max_length > 0) row(tr("Max length:"), tr("%1 tokens").arg(number(f.model_max_length)));
        row(tr("Special tokens:"), f.special_tokens.isEmpty() ? tr("none named") : f.special_tokens.join("\n"));
    }
    if (f.chat_template.isEmpty()) {
        template_box_->setTitle(tr("Chat template"));
        template_->setPlainText(tr("This model has no chat template (tokenizer_config.json \"chat_template\" or chat_template.jinja)."));
    } else {
        template_box_->setTitle(tr("Chat template — %1").arg(f.chat_template_file));
        template_->setPlainText(f.chat_template);
    }
}
