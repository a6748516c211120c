// The Train page's "Train on" list: the local GPUs (nvidia-smi's, with their free memory) and the CPU.
// One device trains in one process; several GPUs, or the CPU with more than one process, train data
// parallel, one rank each, through `lathe launch` (docs/distributed.md).
#pragma once

#include <QList>
#include <QWidget>

#include "ui/device_memory.h"
#include "ui/training_session.h"

class QListWidget;
class QListWidgetItem;
class QSpinBox;

class RankPicker : public QWidget {
    Q_OBJECT
public:
    explicit RankPicker(QWidget* parent = nullptr);

    void setGpus(const QList<GpuInfo>& gpus);
    // The YAML's `device` for what is checked: "cpu", "cuda:N" (one GPU), "cuda" (several: each rank takes
    // its LOCAL_RANK's GPU among CUDA_VISIBLE_DEVICES); empty when nothing is checked (the Device choice stands).
    QString device() const;
    // How to start the run.
    RankLaunch launch() const;
    // The Device choice changed: cpu checks the CPU, cuda:N that GPU; anything else clears the checks.
    void followDevice(const QString& device);
    // Tests and the keyboard-less: check the CPU with `processes` ranks, or the GPUs by index.
    void chooseCpu(int processes);
    void chooseGpus(const QList<int>& indices);
    QStringList rows() const;  // the list's texts, in order

signals:
    void changed();

private:
    void itemChanged(QListWidgetItem* item);
    QListWidgetItem* cpuItem() const;
    QList<int> checkedGpus() const;

    QListWidget* list_;
    QSpinBox* cpu_processes_;
    bool syncing_ = false;
};
