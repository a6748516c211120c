// The Train page: the run configuration as a form — method (full, LoRA, rsLoRA, DoRA, optionally on a
// 4-bit base as QLoRA, continued pretraining) with only that method's options, presets, model and data —
// beside the YAML `lathe train` reads, editable, both validated as you type with the key and line of every
// problem. Before anything starts it shows the memory estimate (core/train/memory_estimate.h, the one
// `lathe train --dry-run` prints, computed in-process) against the chosen device's free memory.
#pragma once

#include <QDateTime>
#include <QHash>
#include <QWidget>
#include <memory>

#include "core/train/train_config.h"
#include "ui/pages/memory_estimate_text.h"
#include "ui/training_session.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QGroupBox;
class QFormLayout;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;
class QTimer;
class DeviceMemory;
class RankPicker;

class TrainPage : public QWidget {
    Q_OBJECT
public:
    enum class Method { Full, Lora, RsLora, Dora, ContinuedPretraining };

    explicit TrainPage(QWidget* parent = nullptr);
    ~TrainPage() override;

    static QStringList presetNames();
    static QString methodName(Method m);

    // The form's configuration (fields that do not parse keep their last good value).
    lathe::TrainConfig config() const;
    void setConfig(const lathe::TrainConfig& c);
    Method method() const;
    void setMethod(Method m);
    // The YAML that Save writes and Start runs.
    QString yamlText() const;
    // Every problem with the configuration, as "run.yaml:LINE: key: what"; empty when it can start.
    QStringList problems() const { return problems_; }
    // The memory line shown ("Memory estimate: … of … free …").
    QString memoryText() const;
    double estimatedGiB() const { return estimate_.device_gib; }
    QString configPath() const { return path_; }
    // The "Train on" list (local GPUs and the CPU): several ranks start through `lathe launch`.
    RankPicker* rankPicker() const { return ranks_; }
    DeviceMemory* deviceMemory() const { return devices_; }

    // Reads a YAML run file into the form; on errors shows them and keeps the form as it was.
    bool loadConfig(const QString& path);
    bool saveConfig(const QString& path);
    // A preset of core/train/presets.h ("Quick LoRA", "QLoRA", ...): method and settings; keeps the
    // model, data and output folder.
    void applyPreset(const QString& name);
    // The demo's run file in resources/demo-data: run-smollm2.yaml once packaging/demo.sh imported
    // SmolLM2-135M-Instruct into resources/smollm2-135m-instruct, else run.yaml (the tiny random model).
    static QString demoConfigName(const QString& resourcesDir);
    // resources/demo-data/`configName` (default: demoConfigName) with its paths made absolute against
    // `resourcesDir/..`.
    bool loadDemo(const QString& resourcesDir);
    bool loadDemo(const QString& resourcesDir, const QString& configName);

public slots:
    // Saves the configuration (to its file, or a new one under the app's data folder) and asks the
    // Monitor to run it.
    void start();
    // Validate now instead of after the typing pause (tests; before saving).
    void validateNow();

signals:
    // `ranks`: one process, or data parallel ranks through `lathe launch` (the "Train on" list).
    void startRequested(const QString& configPath, const RankLaunch& ranks);

private:
    void buildForm();
    void formChanged();
    void yamlEdited();
    void scheduleValidation();
    void showProblems();
    void updateEstimate(const lathe::TrainConfig& valid);
    void showMemory();
    void updateMethodOptions();
    QString resolvedPath(const QString& p) const;

    lathe::TrainConfig base_;  // keys the form does not show are kept from what was loaded
    QString path_;
    QStringList problems_;
    QStringList form_problems_;
    bool syncing_ = false;

    QComboBox* preset_;
    QComboBox* method_;
    QLineEdit* model_;
    QLineEdit* datasets_;
    QComboBox* dataset_type_;
    QCheckBox* packing_;
    QDoubleSpinBox* val_size_;
    QLineEdit* output_;
    QGroupBox* lora_box_;
    QSpinBox* lora_r_;
    QDoubleSpinBox* lora_alpha_;
    QDoubleSpinBox* lora_dropout_;
    QCheckBox* all_linear_;
    QCheckBox* qlora_;  // adapter: qlora with load_in_4bit
    QLineEdit* targets_;
    QComboBox* objective_;  // rl: "" (supervised), dpo, ipo, orpo, simpo
    QGroupBox* pref_box_;
    QFormLayout* pref_form_;
    QDoubleSpinBox* dpo_beta_;
    QDoubleSpinBox* label_smoothing_;
    QDoubleSpinBox* orpo_alpha_;
    QDoubleSpinBox* simpo_gamma_;
    QDoubleSpinBox* cpo_alpha_;
    QSpinBox* max_prompt_len_;
    QGroupBox* full_box_;
    QLineEdit* unfrozen_;
    QSpinBox* epochs_;
    QSpinBox* max_steps_;
    QSpinBox* micro_batch_;
    QSpinBox* grad_accum_;
    QSpinBox* seq_len_;
    QLineEdit* lr_;
    QComboBox* scheduler_;
    QSpinBox* warmup_;
    QDoubleSpinBox* weight_decay_;
    QSpinBox* save_steps_;
    QSpinBox* eval_steps_;
    QComboBox* bf16_;  // bf16: auto / true / false
    QCheckBox* grad_ckpt_;
    QComboBox* device_;
    RankPicker* ranks_;
    QPlainTextEdit* yaml_;
    QLabel* problems_label_;
    QLabel* memory_;
    QPushButton* start_;
    QHash<QString, QWidget*> field_for_key_;

    QTimer* validate_timer_;
    // The model folder's config.json and parameter count, read once per folder (and again when its files
    // change), not on every keystroke: reading safetensors headers of a sharded 8B model takes a while.
    // Whether each dataset file's rows suit the objective (preference pairs or not), judged by its first
    // row; read again only when the file changes.
    QString datasetObjectiveProblem(const lathe::DatasetSpec& d, bool preference);
    QHash<QString, QPair<QDateTime, bool>> first_row_is_pair_;
    struct ModelFacts;
    std::shared_ptr<const ModelFacts> model_facts_;
    std::shared_ptr<const ModelFacts> modelFacts(const QString& dir);
    MemoryEstimateText estimate_;  // the last estimate's figures and words (device_gib -1: none)
    int estimate_ranks_ = 1;       // the world size it was made for ("Train on")
    QString estimate_error_;
    int fits_ = -1;  // 1: the estimate fits the device's free memory, 0: it does not, -1: unknown
    DeviceMemory* devices_;
};
