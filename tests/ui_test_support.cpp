#include "tests/ui_test_support.h"

#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QWidget>

#include <cstring>
#include <random>
#include <vector>

#include "core/io/safetensors.h"

namespace uitest {

QString fixtures() { return LATHE_FIXTURES; }
QString hfModel(const QString& name) { return fixtures() + "/hf/models/" + name; }
QString hfAdapter(const QString& name) { return fixtures() + "/hf/adapters/" + name; }

QString makeModelWithTokenizer(const QString& dir) {
    const QString tok = fixtures() + "/hf/tokenizers/bytelevel-regex-qwen-hf";
    for (const char* f : {"tokenizer.json", "tokenizer_config.json", "chat_template.jinja"}) QFile::copy(tok + "/" + f, dir + "/" + f);
    constexpr int64_t kVocab = 1503;  // the tokenizer's 1500 + 3 added tokens
    QFile in(hfModel("qwen2") + "/config.json");
    in.open(QIODevice::ReadOnly);
    QJsonObject config = QJsonDocument::fromJson(in.readAll()).object();
    config["vocab_size"] = static_cast<qint64>(kVocab);
    QFile out(dir + "/config.json");
    out.open(QIODevice::WriteOnly);
    out.write(QJsonDocument(config).toJson());
    out.close();

    auto weights = lathe::SafetensorsFile::open((hfModel("qwen2") + "/model.safetensors").toStdString());
    std::vector<lathe::TensorBytes> tensors;
    std::vector<float> embedding;
    for (const lathe::TensorEntry& e : weights->header().tensors) {
        if (e.name == "model.embed_tokens.weight") {
            const int64_t hidden = e.shape[1];
            embedding.resize(static_cast<size_t>(kVocab * hidden));
            std::mt19937 rng(7);
            std::normal_distribution<float> normal(0.0f, 0.5f);
            for (float& x : embedding) x = normal(rng);
            tensors.push_back({e.name, lathe::DType::F32, {kVocab, hidden}, embedding.data(), embedding.size() * sizeof(float)});
        } else {
            tensors.push_back({e.name, e.dtype, e.shape, weights->data(e), static_cast<size_t>(e.end - e.begin)});
        }
    }
    lathe::write_safetensors((dir + "/model.safetensors").toStdString(), tensors);
    return dir;
}

CliResult runLathe(const QStringList& args, int timeout_ms) {
    QProcess p;
    p.start(qEnvironmentVariable("LATHE_CLI"), args);
    CliResult r;
    if (!p.waitForFinished(timeout_ms)) {
        p.kill();
        p.waitForFinished();
        r.err = "timed out: lathe " + args.join(' ');
        return r;
    }
    r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = QString::fromUtf8(p.readAllStandardOutput());
    r.err = QString::fromUtf8(p.readAllStandardError());
    return r;
}

CliResult trainTinyRun(const QString& model_dir, const QString& work, const QString& db, const QString& name) {
    QFile corpus(work + "/corpus.jsonl");
    corpus.open(QIODevice::WriteOnly);
    for (int i = 0; i < 6; ++i)
        corpus.write(QString("{\"text\": \"Document %1: the quick brown fox jumps over the lazy dog, again and again.\"}\n").arg(i).toUtf8());
    corpus.close();
    QFile config(work + "/" + name + ".yaml");
    config.open(QIODevice::WriteOnly);
    config.write(QString("base_model: %1\n"
                         "datasets:\n  - path: %2/corpus.jsonl\n    type: text\n"
                         "sequence_len: 16\nsample_packing: true\nadapter: lora\nlora_target_linear: true\n"
                         "lr_scheduler: warmup_stable_decay\nwarmup_steps: 1\nmicro_batch_size: 2\nnum_epochs: 2\nsave_steps: 4\n"
                         "output_dir: %2/%3\n")
                     .arg(model_dir, work, name)
                     .toUtf8());
    config.close();
    return runLathe({"train", config.fileName(), "--store", db});
}

bool saveScreenshot(QWidget* w, const QString& name) {
    return w->grab().save(screenshotDir() + "/" + name + ".png");
}

}  // namespace uitest
