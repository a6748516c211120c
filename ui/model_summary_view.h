// Shows what a model folder holds: a ModelSummary (architecture, parameters, dtype, size on disk, the
// shape of the network), its tokenizer and its chat template.
#pragma once

#include <QWidget>

#include "core/models/model_summary.h"
#include "ui/tokenizer_facts.h"

class QFormLayout;
class QGroupBox;
class QLabel;
class QPlainTextEdit;

class ModelSummaryView : public QWidget {
    Q_OBJECT
public:
    explicit ModelSummaryView(QWidget* parent = nullptr);
    void showSummary(const lathe::ModelSummary& summary);
    // The tokenizer is read in the background: "reading…" first, then the facts.
    void showTokenizerLoading();
    void showTokenizer(const TokenizerFacts& facts);

private:
    QLabel* title_;
    QLabel* path_;
    QFormLayout* form_;
    QFormLayout* tokenizer_form_;
    QGroupBox* template_box_;
    QPlainTextEdit* template_;
};
