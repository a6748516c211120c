// Helpers shared by the Lathe Studio tests (Qt Test, offscreen): fixture paths, a model folder with a
// tokenizer made from the fixtures without LibTorch, running the real `lathe` binary, screenshots.
#pragma once

#include <QString>
#include <QStringList>

#include "tests/ui_screenshots.h"

class QWidget;

namespace uitest {

QString fixtures();                       // tests/fixtures
QString hfModel(const QString& name);     // fixtures()/hf/models/NAME
QString hfAdapter(const QString& name);   // fixtures()/hf/adapters/NAME

// In `dir`: the qwen-hf fixture tokenizer (with its chat template) and the qwen2 fixture's weights with
// the embedding widened to the tokenizer's 1503 tokens (random rows), so text goes in and comes out.
// The same recipe as tests/test_main.cpp's model_with_tokenizer, written without LibTorch.
QString makeModelWithTokenizer(const QString& dir);

struct CliResult {
    int code = -1;
    QString out, err;
};
// Runs the `lathe` binary under test with `args` and waits (at most `timeout_ms`).
CliResult runLathe(const QStringList& args, int timeout_ms = 180000);

// Trains a tiny LoRA continued-pretraining run on the model in `model_dir` with `lathe train`, recorded
// in the run store `db`; `work` holds the data, config and checkpoints. Returns the exit code.
CliResult trainTinyRun(const QString& model_dir, const QString& work, const QString& db, const QString& name);

// Saves `w` as NAME.png in screenshotDir() (the build folder; docs/screenshots with LATHE_UPDATE_SCREENSHOTS=1).
bool saveScreenshot(QWidget* w, const QString& name);

}  // namespace uitest

// Each test class's runner (tests/test_ui_*.cpp), called by tests/test_ui_main.cpp.
int runMainWindowTests(int argc, char** argv);
int runModelsPageTests(int argc, char** argv);
int runRunsPageTests(int argc, char** argv);
int runChatPageTests(int argc, char** argv);
int runMonitorPageTests(int argc, char** argv);
int runEvaluatePageTests(int argc, char** argv);
int runMergePageTests(int argc, char** argv);
