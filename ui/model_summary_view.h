// Shows a ModelSummary: architecture, parameters, dtype, size on disk and the shape of the network.
#pragma once

#include <QWidget>

#include "core/models/model_summary.h"

class QFormLayout;
class QLabel;

class ModelSummaryView : public QWidget {
    Q_OBJECT
public:
    explicit ModelSummaryView(QWidget* parent = nullptr);
    void showSummary(const lathe::ModelSummary& summary);

private:
    QLabel* title_;
    QLabel* path_;
    QFormLayout* form_;
};
