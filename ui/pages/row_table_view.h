// A read-only table of rows for a possibly large model: whole rows selected one at a time, no editing,
// no word wrap and fixed row heights, so that the view never asks every row for its size.
#pragma once

#include <QAbstractItemModel>
#include <QHeaderView>
#include <QTableView>

inline QTableView* makeRowTableView(QAbstractItemModel* model, const QString& objectName, QWidget* parent) {
    auto* table = new QTableView(parent);
    table->setObjectName(objectName);
    table->setModel(model);
    table->setSelectionBehavior(QAbstractItemView::SelectRows);
    table->setSelectionMode(QAbstractItemView::SingleSelection);
    table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table->setWordWrap(false);
    table->verticalHeader()->hide();
    table->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
    table->verticalHeader()->setDefaultSectionSize(table->fontMetrics().height() + 6);
    return table;
}
