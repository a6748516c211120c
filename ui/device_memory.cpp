#include "ui/device_memory.h"

#include <QFile>
#include <QProcess>
#include <QStandardPaths>

DeviceMemory::DeviceMemory(QObject* parent) : QObject(parent) {}

double DeviceMemory::cpuAvailableGiB() {
    QFile f("/proc/meminfo");
    if (!f.open(QIODevice::ReadOnly)) return -1;
    for (const QByteArray& line : f.readAll().split('\n'))
        if (line.startsWith("MemAvailable:")) return line.mid(13).trimmed().split(' ').first().toDouble() / (1024.0 * 1024.0);  // kB
    return -1;
}

QList<GpuInfo> DeviceMemory::parseNvidiaSmi(const QString& csv) {
    QList<GpuInfo> out;
    for (const QString& line : csv.split('\n', Qt::SkipEmptyParts)) {
        QStringList f = line.split(',');
        if (f.size() < 4) continue;
        GpuInfo g;
        bool ok1 = false, ok2 = false, ok3 = false;
        g.index = f[0].trimmed().toInt(&ok1);
        g.name = f[1].trimmed();
        g.free_gib = f[2].trimmed().toDouble(&ok2) / 1024.0;
        g.total_gib = f[3].trimmed().toDouble(&ok3) / 1024.0;
        if (f.size() >= 5) {  // "8.0"
            bool ok = false;
            const int major = f[4].trimmed().section('.', 0, 0).toInt(&ok);
            if (ok) g.compute_major = major;
        }
        if (ok1 && ok2 && ok3) out << g;
    }
    return out;
}

void DeviceMemory::refresh() {
    const QString smi = QStandardPaths::findExecutable("nvidia-smi");
    smi_present_ = !smi.isEmpty();
    if (!smi_present_) {
        gpus_.clear();
        known_ = true;
        emit gpusChanged();
        return;
    }
    query(true);
}

void DeviceMemory::setGpus(const QList<GpuInfo>& gpus) {
    gpus_ = gpus;
    known_ = smi_present_ = true;
    emit gpusChanged();
}

// compute_cap is a query field since driver 510; an older nvidia-smi refuses it, and is asked again without.
void DeviceMemory::query(bool withComputeCapability) {
    const QString smi = QStandardPaths::findExecutable("nvidia-smi");
    auto* p = new QProcess(this);
    connect(p, &QProcess::finished, this, [this, p, withComputeCapability](int code, QProcess::ExitStatus status) {
        p->deleteLater();
        if (withComputeCapability && code != 0 && status == QProcess::NormalExit) {
            query(false);
            return;
        }
        gpus_ = code == 0 && status == QProcess::NormalExit ? parseNvidiaSmi(QString::fromUtf8(p->readAllStandardOutput())) : QList<GpuInfo>{};
        known_ = code == 0 && status == QProcess::NormalExit;
        emit gpusChanged();
    });
    connect(p, &QProcess::errorOccurred, this, [this, p](QProcess::ProcessError e) {
        if (e != QProcess::FailedToStart) return;
        gpus_.clear();
        known_ = false;
        p->deleteLater();
        emit gpusChanged();
    });
    const QString fields = withComputeCapability ? "index,name,memory.free,memory.total,compute_cap" : "index,name,memory.free,memory.total";
    p->start(smi, {"--query-gpu=" + fields, "--format=csv,noheader,nounits"});
}
