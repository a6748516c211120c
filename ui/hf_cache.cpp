#include "ui/hf_cache.h"

#include <QDir>
#include <QFileInfo>

#include <algorithm>

QString huggingFaceHubCache() {
    QString hub = qEnvironmentVariable("HF_HUB_CACHE");
    if (!hub.isEmpty()) return hub;
    QString home = qEnvironmentVariable("HF_HOME");
    if (!home.isEmpty()) return home + "/hub";
    QString xdg = qEnvironmentVariable("XDG_CACHE_HOME");
    if (!xdg.isEmpty()) return xdg + "/huggingface/hub";
    return QDir::homePath() + "/.cache/huggingface/hub";
}

QVector<CachedModel> scanHuggingFaceCache(const QString& hub) {
    QVector<CachedModel> found;
    struct Dated {
        CachedModel model;
        qint64 modified;
    };
    std::vector<Dated> all;
    const QFileInfoList repos = QDir(hub).entryInfoList({"models--*"}, QDir::Dirs | QDir::NoDotAndDotDot);
    for (const QFileInfo& repo : repos) {
        // "models--ORG--NAME" -> "ORG/NAME"; names may themselves hold single dashes.
        QString id = repo.fileName().mid(QStringLiteral("models--").size()).replace("--", "/");
        const QFileInfoList snapshots = QDir(repo.filePath() + "/snapshots").entryInfoList(QDir::Dirs | QDir::NoDotAndDotDot);
        for (const QFileInfo& snap : snapshots) {
            if (!QFileInfo::exists(snap.filePath() + "/config.json")) continue;  // e.g. a tokenizer-only download
            all.push_back({{id, snap.fileName(), snap.filePath()}, snap.lastModified().toMSecsSinceEpoch()});
        }
    }
    std::sort(all.begin(), all.end(), [](const Dated& a, const Dated& b) {
        if (a.model.repo_id != b.model.repo_id) return a.model.repo_id.compare(b.model.repo_id, Qt::CaseInsensitive) < 0;
        return a.modified > b.modified;
    });
    for (const Dated& d : all) found.push_back(d.model);
    return found;
}
