#include "ui/pages/train_ranks.h"

#include <algorithm>

#include <QVBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QThread>

namespace {
constexpr int kCpu = -1;  // the CPU row's data; a GPU row's is its index
}

RankPicker::RankPicker(QWidget* parent) : QWidget(parent), list_(new QListWidget(this)), cpu_processes_(new QSpinBox(this)) {
    list_->setObjectName("trainOnList");
    list_->setToolTip(tr("Check one device to train in one process; check several GPUs (or the CPU with more than one process) to "
                         "train data parallel, one rank each, through `lathe launch`"));
    cpu_processes_->setObjectName("cpuProcesses");
    cpu_processes_->setRange(1, std::max(2, QThread::idealThreadCount()));
    cpu_processes_->setSuffix(tr(" CPU processes"));
    cpu_processes_->setToolTip(tr("More than one: data parallel ranks on this machine's CPU (Gloo), through `lathe launch`"));
    list_->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    list_->setTextElideMode(Qt::ElideRight);  // the free memory stays readable, the name gives way
    auto* column = new QVBoxLayout(this);
    column->setContentsMargins(0, 0, 0, 0);
    column->setSpacing(2);
    column->addWidget(list_);
    column->addWidget(cpu_processes_, 0, Qt::AlignLeft);
    setGpus({});
    connect(list_, &QListWidget::itemChanged, this, &RankPicker::itemChanged);
    connect(cpu_processes_, &QSpinBox::valueChanged, this, [this] {
        if (!syncing_) emit changed();
    });
}

void RankPicker::setGpus(const QList<GpuInfo>& gpus) {
    const QList<int> checked = checkedGpus();
    const bool cpu = cpuItem() && cpuItem()->checkState() == Qt::Checked;
    QSignalBlocker block(list_);
    list_->clear();
    for (const GpuInfo& g : gpus) {
        auto* item = new QListWidgetItem(tr("GPU %1: %3 of %4 GiB free · %2").arg(g.index).arg(g.name).arg(g.free_gib, 0, 'f', 1).arg(g.total_gib, 0, 'f', 0),
                                         list_);
        item->setToolTip(item->text());
        item->setData(Qt::UserRole, g.index);
        item->setFlags(Qt::ItemIsUserCheckable | Qt::ItemIsEnabled);
        item->setCheckState(checked.contains(g.index) ? Qt::Checked : Qt::Unchecked);
    }
    auto* item = new QListWidgetItem(tr("CPU"), list_);
    item->setData(Qt::UserRole, kCpu);
    item->setFlags(Qt::ItemIsUserCheckable | Qt::ItemIsEnabled);
    item->setCheckState(cpu ? Qt::Checked : Qt::Unchecked);
    cpu_processes_->setEnabled(cpu);
    // As tall as its rows (at most four before it scrolls): the form must still fit a 1280x800 window.
    const int rows = std::min(4, list_->count());
    list_->setFixedHeight(list_->sizeHintForRow(0) * rows + 2 * list_->frameWidth() + 2);
}

QListWidgetItem* RankPicker::cpuItem() const {
    for (int i = 0; i < list_->count(); ++i)
        if (list_->item(i)->data(Qt::UserRole).toInt() == kCpu) return list_->item(i);
    return nullptr;
}

QList<int> RankPicker::checkedGpus() const {
    QList<int> out;
    for (int i = 0; i < list_->count(); ++i) {
        const QListWidgetItem* item = list_->item(i);
        if (item->data(Qt::UserRole).toInt() != kCpu && item->checkState() == Qt::Checked) out << item->data(Qt::UserRole).toInt();
    }
    return out;
}

// The CPU and the GPUs do not mix in one run (Gloo between CPU processes, NCCL between GPUs).
void RankPicker::itemChanged(QListWidgetItem* changedItem) {
    if (changedItem->checkState() == Qt::Checked) {
        QSignalBlocker block(list_);
        const bool cpu = changedItem->data(Qt::UserRole).toInt() == kCpu;
        for (int i = 0; i < list_->count(); ++i) {
            QListWidgetItem* other = list_->item(i);
            if ((other->data(Qt::UserRole).toInt() == kCpu) != cpu) other->setCheckState(Qt::Unchecked);
        }
    }
    cpu_processes_->setEnabled(cpuItem()->checkState() == Qt::Checked);
    if (!syncing_) emit changed();
}

QString RankPicker::device() const {
    if (cpuItem()->checkState() == Qt::Checked) return "cpu";
    const QList<int> gpus = checkedGpus();
    if (gpus.size() == 1) return QString("cuda:%1").arg(gpus[0]);
    if (gpus.size() > 1) return "cuda";
    return {};
}

RankLaunch RankPicker::launch() const {
    if (cpuItem()->checkState() == Qt::Checked) return RankLaunch{.processes = cpu_processes_->value(), .cuda_visible_devices = {}};
    const QList<int> gpus = checkedGpus();
    if (gpus.size() <= 1) return RankLaunch{};
    QStringList ids;
    for (int g : gpus) ids << QString::number(g);
    return RankLaunch{.processes = static_cast<int>(gpus.size()), .cuda_visible_devices = ids.join(',')};
}

void RankPicker::followDevice(const QString& device) {
    if (device == this->device()) return;
    syncing_ = true;
    {
        QSignalBlocker block(list_);
        for (int i = 0; i < list_->count(); ++i) {
            QListWidgetItem* item = list_->item(i);
            const int id = item->data(Qt::UserRole).toInt();
            const bool on = (device == "cpu" && id == kCpu) || (device.startsWith("cuda:") && id != kCpu && device.mid(5).toInt() == id);
            item->setCheckState(on ? Qt::Checked : Qt::Unchecked);
        }
    }
    cpu_processes_->setEnabled(cpuItem()->checkState() == Qt::Checked);
    syncing_ = false;
}

void RankPicker::chooseCpu(int processes) {
    syncing_ = true;
    cpu_processes_->setValue(processes);
    cpuItem()->setCheckState(Qt::Checked);  // unchecks the GPUs
    syncing_ = false;
    emit changed();
}

void RankPicker::chooseGpus(const QList<int>& indices) {
    syncing_ = true;
    {
        QSignalBlocker block(list_);
        for (int i = 0; i < list_->count(); ++i) {
            QListWidgetItem* item = list_->item(i);
            const int id = item->data(Qt::UserRole).toInt();
            item->setCheckState(id != kCpu && indices.contains(id) ? Qt::Checked : Qt::Unchecked);
        }
    }
    cpu_processes_->setEnabled(false);
    syncing_ = false;
    emit changed();
}

QStringList RankPicker::rows() const {
    QStringList out;
    for (int i = 0; i < list_->count(); ++i) out << list_->item(i)->text();
    return out;
}
