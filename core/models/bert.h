// BERT encoder with the sequence-classification head (BertForSequenceClassification).
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "core/models/config.h"
#include "core/models/layers.h"
#include "core/models/linear.h"

namespace lathe {

struct BertLayer {
    Linear query, key, value;
    Linear attn_out;       // attention.output.dense
    Norm attn_norm;        // attention.output.LayerNorm
    Linear intermediate;   // intermediate.dense
    Linear output;         // output.dense
    Norm output_norm;      // output.LayerNorm
};

class BertClassifier {
public:
    ModelConfig config;
    at::Tensor word_embeddings, position_embeddings, token_type_embeddings;
    Norm embeddings_norm;
    std::vector<BertLayer> layers;
    Linear pooler;
    Linear classifier;

    // input_ids, attention_mask, token_type_ids [B, T] (mask and types optional) -> logits [B, labels].
    at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& attention_mask = {},
                       const at::Tensor& token_type_ids = {}, bool training = false) const;
    std::vector<Linear*> linears();
    c10::Device device() const { return word_embeddings.device(); }
};

}  // namespace lathe
