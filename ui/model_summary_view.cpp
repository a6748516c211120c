#include "ui/model_summary_view.h"

#include <QFormLayout>
#include <QGroupBox>
#include <QLabel>
#include <QLocale>
#include <QVBoxLayout>

namespace {
QString number(int64_t n) { return QLocale().toString(static_cast<qlonglong>(n)); }
}  // namespace

ModelSummaryView::ModelSummaryView(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    title_ = new QLabel(this);
    QFont font = title_->font();
    font.setPointSizeF(font.pointSizeF() * 1.6);
    font.setBold(true);
    title_->setFont(font);
    path_ = new QLabel(this);
    path_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    path_->setWordWrap(true);
    auto* box = new QGroupBox(tr("Model"), this);
    form_ = new QFormLayout(box);
    form_->setLabelAlignment(Qt::AlignRight);
    layout->addWidget(title_);
    layout->addWidget(path_);
    layout->addWidget(box);
    layout->addStretch(1);
}

void ModelSummaryView::showSummary(const lathe::ModelSummary& s) {
    title_->setText(tr("%1 — %2").arg(QString::fromStdString(s.architecture), QString::fromStdString(lathe::human_count(s.parameters))));
    path_->setText(QString::fromStdString(s.dir));
    while (form_->rowCount() > 0) form_->removeRow(0);
    auto row = [this](const QString& label, const QString& value) {
        auto* v = new QLabel(value);
        v->setTextInteractionFlags(Qt::TextSelectableByMouse);
        form_->addRow(label, v);
    };
    row(tr("Architecture:"), tr("%1 (%2), %3").arg(QString::fromStdString(s.architecture), QString::fromStdString(s.model_type),
                                                  QString::fromStdString(s.task)));
    row(tr("Parameters:"), tr("%1 (%2)").arg(QString::fromStdString(lathe::human_count(s.parameters)), number(s.parameters)));
    row(tr("Weights dtype:"), QString::fromStdString(s.dtype));
    row(tr("Size on disk:"), (s.files == 1 ? tr("%1 in 1 file") : tr("%1 in %2 files").arg("%1", number(s.files)))
                                 .arg(QString::fromStdString(lathe::human_bytes(s.size_bytes))));
    row(tr("Layers:"), number(s.layers));
    row(tr("Hidden size:"), tr("%1 (MLP %2)").arg(number(s.hidden_size), number(s.intermediate_size)));
    row(tr("Attention:"), tr("%1 heads, %2 key/value heads, head dim %3").arg(number(s.heads), number(s.kv_heads), number(s.head_dim)));
    row(tr("Vocabulary:"), s.tied_embeddings ? tr("%1 (tied to the output layer)").arg(number(s.vocab_size)) : number(s.vocab_size));
    row(tr("Context length:"), tr("%1 positions").arg(number(s.context_length)));
    if (!s.rope.empty()) row(tr("RoPE:"), QString::fromStdString(s.rope));
    row(tr("Tokenizer:"), s.has_tokenizer ? (s.has_chat_template ? tr("yes, with chat template") : tr("yes")) : tr("none found"));
}
