// The Hugging Face hub cache as huggingface_hub lays it out: HUB/models--ORG--NAME/snapshots/REVISION/,
// each snapshot a model folder (files are symlinks into blobs/).
#pragma once

#include <QString>
#include <QVector>

struct CachedModel {
    QString repo_id;   // "Qwen/Qwen2.5-0.5B"
    QString revision;  // the snapshot folder's name (a commit hash)
    QString path;      // the snapshot folder
};

// $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
QString huggingFaceHubCache();

// Every snapshot under `hub` that has a config.json, sorted by repo id; the newest snapshot first
// within a repo. A missing folder gives an empty list.
QVector<CachedModel> scanHuggingFaceCache(const QString& hub);
