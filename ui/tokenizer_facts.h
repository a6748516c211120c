// What the Models page shows about a model folder's tokenizer and chat template. Torch-free (lathe_text).
#pragma once

#include <QString>
#include <QStringList>

struct TokenizerFacts {
    bool found = false;        // tokenizer.json or tokenizer.model in the folder
    QString error;             // set when one is there but could not be read
    QString type;              // "BPE (ByteLevel pre-tokenizer)", "SentencePiece", "WordPiece"
    QString file;              // the file it was read from
    qint64 vocab_size = 0;     // with the added tokens
    QStringList special_tokens;  // "eos: <|im_end|> (1501)", then other added special tokens
    qint64 model_max_length = 0;  // tokenizer_config.json's, 0 when absent
    QString chat_template;     // the default template's source, empty when none
    QString chat_template_file;
};

// Reads tokenizer.json / tokenizer.model and tokenizer_config.json in `dir`. Parses the whole
// vocabulary, so it can take a moment on a big tokenizer: call it off the UI thread.
TokenizerFacts readTokenizerFacts(const QString& dir);
