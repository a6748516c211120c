#include "core/train/training_method.h"

namespace lathe {

TrainingMethod training_method(const TrainConfig& c) {
    if (c.adapter.empty()) return TrainingMethod::full;
    // lora or qlora (LoRA on a 4-bit base; the method is the same); DoRA wins over rsLoRA as in PEFT's LoraConfig, where
    // use_dora decides the layer type and use_rslora only the scaling.
    if (c.peft_use_dora) return TrainingMethod::dora;
    if (c.peft_use_rslora) return TrainingMethod::rslora;
    return TrainingMethod::lora;
}

void set_training_method(TrainConfig& c, TrainingMethod m) {
    // QLoRA is LoRA on a 4-bit base: choosing another adapter method keeps the base quantized.
    if (m == TrainingMethod::full) {
        c.adapter = "";
        c.load_in_4bit = false;
    } else if (c.adapter != "qlora") c.adapter = "lora";
    c.peft_use_rslora = m == TrainingMethod::rslora;
    c.peft_use_dora = m == TrainingMethod::dora;
}

bool is_continued_pretraining(const TrainConfig& c) {
    if (c.datasets.empty()) return false;
    for (const auto& d : c.datasets)
        if (d.type != "text") return false;
    return true;
}

const char* to_string(TrainingMethod m) {
    switch (m) {
        case TrainingMethod::full: return "full";
        case TrainingMethod::lora: return "lora";
        case TrainingMethod::rslora: return "rslora";
        case TrainingMethod::dora: return "dora";
    }
    return "full";
}

std::optional<TrainingMethod> parse_training_method(std::string_view name) {
    for (TrainingMethod m : {TrainingMethod::full, TrainingMethod::lora, TrainingMethod::rslora, TrainingMethod::dora})
        if (name == to_string(m)) return m;
    return std::nullopt;
}

const char* display_name(TrainingMethod m) {
    switch (m) {
        case TrainingMethod::full: return "full";
        case TrainingMethod::lora: return "LoRA";
        case TrainingMethod::rslora: return "rsLoRA";
        case TrainingMethod::dora: return "DoRA";
    }
    return "full";
}

const char* preference_display_name(const std::string& rl) {
    if (rl == "dpo") return "DPO";
    if (rl == "ipo") return "IPO";
    if (rl == "orpo") return "ORPO";
    if (rl == "simpo") return "SimPO";
    return nullptr;
}

std::string method_label(const TrainConfig& c) {
    const TrainingMethod m = training_method(c);
    std::string weights = display_name(m);
    if (c.adapter == "qlora") weights = m == TrainingMethod::lora ? "QLoRA" : std::string("QLoRA (") + display_name(m) + ")";
    if (c.rl.empty()) return weights;
    const char* objective = preference_display_name(c.rl);
    return std::string(objective ? objective : c.rl) + " · " + weights;
}

}  // namespace lathe
