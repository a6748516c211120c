// Free memory of the devices a run can use: system RAM for the CPU (/proc/meminfo), and each NVIDIA
// GPU through `nvidia-smi` when it is installed. The GPU query runs as a child process, off the UI thread.
#pragma once

#include <QList>
#include <QObject>
#include <QString>

struct GpuInfo {
    int index = 0;
    QString name;
    double free_gib = 0, total_gib = 0;
    int compute_major = -1;  // compute capability major (8 for an A100); -1 when nvidia-smi did not say
};

class DeviceMemory : public QObject {
    Q_OBJECT
public:
    explicit DeviceMemory(QObject* parent = nullptr);
    // MemAvailable; < 0 when unknown.
    static double cpuAvailableGiB();
    // Starts `nvidia-smi --query-gpu=...`; gpusChanged() follows. Without nvidia-smi: no GPUs, known.
    void refresh();
    bool gpusKnown() const { return known_; }
    bool nvidiaSmiPresent() const { return smi_present_; }
    const QList<GpuInfo>& gpus() const { return gpus_; }
    // Parses nvidia-smi's "index, name, memory.free, memory.total[, compute_cap]" CSV (MiB, no units).
    static QList<GpuInfo> parseNvidiaSmi(const QString& csv);
    // GPUs known another way, as nvidia-smi would report them (parseNvidiaSmi's result): tests show the
    // pages the GPUs of a machine they do not run on. gpusChanged() follows.
    void setGpus(const QList<GpuInfo>& gpus);

signals:
    void gpusChanged();

private:
    void query(bool withComputeCapability);

    QList<GpuInfo> gpus_;
    bool known_ = false;
    bool smi_present_ = false;
};
