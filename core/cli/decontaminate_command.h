// `lathe data decontaminate`: training rows that contain evaluation items (core/data/decontaminate.h),
// reported with file and line, and optionally the training data written without them.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace lathe {

struct DecontaminateCommand {
    std::vector<std::string> train_files;  // read as `lathe data inspect` reads them
    std::vector<std::string> eval_files;   // --against: data files (each row an item) or task YAMLs
    int ngram = 13;
    bool json = false;                     // JSON lines: one per contaminated row, then the result
    std::string write_clean;               // a .jsonl file for the rows without contamination
    std::string format;                    // the files' format ("" = from the extension)
    std::string json_field;
};
// Prints the contaminated rows and a summary on `out`; throws lathe::Error on bad input.
void run_data_decontaminate(const DecontaminateCommand& cmd, std::ostream& out);

}  // namespace lathe
