// The Monitor page: a training run's live charts (loss with smoothing, validation loss, checkpoints,
// one curve per probe dataset, one per eval_tasks score, learning rate, grad norm, tokens/s, GPU memory), progress with ETA, stop / pause / resume, earlier
// runs overlaid for comparison, and the trainer's warnings and errors. It owns the TrainingSession.
#pragma once

#include <QHash>
#include <QPair>
#include <QVector>
#include <QWidget>

#include <optional>

#include "ui/training_session.h"

namespace lathe {
class RunReader;
}

class QComboBox;
class QCustomPlot;
class QCPGraph;
class QLabel;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QSlider;
class QTimer;

// TensorBoard's smoothing: an exponential moving average, debiased so the first points are not pulled
// towards zero. Kept as a running state, so a new point costs O(1), not the series.
struct DebiasedAverage {
    double last = 0, norm = 0;
    // Adds `value` and returns the smoothed value at it.
    double add(double value, double weight) {
        last = last * weight + (1 - weight) * value;
        norm = norm * weight + (1 - weight);
        return norm > 0 ? last / norm : value;
    }
};

class MonitorPage : public QWidget {
    Q_OBJECT
public:
    // Earlier runs are read from `runs`; the trainer is given its path (`lathe train --store`).
    explicit MonitorPage(const lathe::RunReader& runs, QWidget* parent = nullptr);

    TrainingSession* session() const { return session_; }
    // Re-reads the earlier runs offered for comparison (when another run store was chosen).
    void refreshOverlayChoices();
    // For the main window's close: with a run going, asks whether to stop it (with a checkpoint) or
    // leave it running. False when the user cancelled the close.
    bool confirmClose();

    // What the charts hold (for tests and the status line).
    qint64 currentRunId() const { return run_id_; }
    int lossPointCount() const;
    int evalPointCount() const;
    int checkpointMarkerCount() const;
    // Preference runs (rl): points of the reward-margin chart, and whether it is shown.
    int preferencePointCount() const;
    bool preferenceChartShown() const;
    int overlayCount() const { return overlays_.size(); }
    // Probe datasets (probe_datasets): their names in the order they first reported, the points of one's
    // curve, and whether the probe chart is shown (only for runs with probes).
    QStringList probeNames() const { return probe_names_; }
    int probePointCount(const QString& probe) const;
    bool probeChartShown() const;
    // eval_tasks: one curve per task and metric ("tiny_mc acc", "gsm8k exact_match (strict-match)"), in
    // the order they first reported; the points of one, and whether the task chart is shown.
    QStringList taskCurveNames() const { return task_curve_names_; }
    int taskPointCount(const QString& curve) const;
    bool taskChartShown() const;
    // The smoothed train loss as charted (after each point was added one at a time).
    QVector<double> smoothedLoss() const;
    // The forecast of the final loss drawn ahead of the curve (from the latest step / eval event that
    // carried one), and whether it is on the chart.
    std::optional<lathe::ProjectedLoss> trainingProjection() const { return training_projection_; }
    std::optional<lathe::ProjectedLoss> validationProjection() const { return validation_projection_; }
    bool projectionShown() const;
    // The steps the training forecast spans: from the newest step to the run's last (0, 0 when none).
    QPair<double, double> trainingForecastSpan() const;
    // How often the charts were redrawn: at most about 30 times a second however fast steps arrive.
    int chartRedraws() const { return redraws_; }
    // Data parallel runs: the memory chart's curves, one per rank (0 when not shown), and the throughput
    // chart's title (it counts every rank's tokens).
    int rankMemoryCurveCount() const;
    QString throughputTitle() const;
    // Opens a run from the store (metrics, evaluations, checkpoints); false, with a message, when it cannot.
    bool loadHistory(qint64 runId);
    QString statusText() const;
    QString logText() const;
    QString failureText() const;

public slots:
    // Starts `lathe train CONFIG` and shows it live.
    // With ranks.processes > 1: `lathe launch --nproc-per-node N -- train CONFIG` (data parallel).
    void startRun(const QString& configPath, const RankLaunch& ranks = RankLaunch{});
    // Runs page: continue a stopped, paused or crashed run from its latest checkpoint.
    void resumeRun(qint64 runId);
    // Runs page: show a run's charts from the run store.
    void openRun(qint64 runId);
    // Adds the loss curve of an earlier run to the loss chart, dashed.
    void addOverlay(qint64 runId);
    void clearOverlays();
    void stopRun();
    void pauseRun();

signals:
    // Ask the shell to show this page (a run was started, resumed or opened).
    void showRequested();
    void runFinished(qint64 runId, lathe::RunStatus status);

private:
    void clearCharts();
    void addStep(const lathe::StepEvent& p);
    void addRankMemory(double step, const std::vector<double>& gib);
    void addEval(qint64 step, double loss);
    void addProbe(qint64 step, const QString& probe, double loss);
    void addTaskScore(qint64 step, const QString& task, const QString& metric, const QString& filter, double value);
    void addCheckpoint(qint64 step);
    // A dashed line from the curve's newest point to the projection at the last step, in its 80% band.
    struct ForecastGraphs {
        QCPGraph *line = nullptr, *low = nullptr, *high = nullptr;
    };
    ForecastGraphs addForecastGraphs(const QColor& color, const QString& name);
    void drawForecast(const ForecastGraphs& g, double fromStep, double fromLoss, const lathe::ProjectedLoss& p);
    void onStarted(qint64 runId, qint64 startStep, qint64 totalSteps, const QString& device);
    void onFinished(lathe::RunStatus status);
    void onFailed(const QString& reason, const QString& advice);
    void log(const QString& line);
    void resmooth();
    void updateButtons();
    void updateProgress(qint64 step, double elapsed);
    void replotAll();
    // Marks the charts dirty; they are redrawn once when the next 30 Hz tick comes.
    void scheduleReplot();
    void placeCheckpointMarkers();

    TrainingSession* session_;
    const lathe::RunReader& runs_;
    qint64 run_id_ = 0;
    lathe::RunStatus run_status_ = lathe::RunStatus::created;
    bool pausing_ = false;  // Pause was pressed: the run stops with a checkpoint, shown as paused
    bool paused_ = false;   // stopped by Pause
    qint64 total_steps_ = 0, last_step_ = 0;
    qint64 session_first_step_ = -1;
    double session_first_elapsed_ = 0;

    QLabel* title_;
    QLabel* status_;
    QProgressBar* progress_;
    QLabel* eta_;
    QPushButton* stop_;
    QPushButton* pause_;
    QPushButton* resume_;
    QLabel* failure_;
    QCustomPlot* loss_plot_;
    QCPGraph* loss_raw_;
    QCPGraph* loss_smooth_;
    DebiasedAverage smoothed_loss_;  // after the last point charted
    QTimer* replot_timer_;
    int redraws_ = 0;
    QCPGraph* eval_;
    ForecastGraphs training_forecast_, validation_forecast_;
    std::optional<lathe::ProjectedLoss> training_projection_, validation_projection_;
    QCPGraph* checkpoints_;
    QSlider* smoothing_;
    QLabel* smoothing_value_;
    QComboBox* compare_;
    QCustomPlot* lr_plot_;
    QCustomPlot* grad_plot_;
    QCustomPlot* tps_plot_;
    QCustomPlot* mem_plot_;
    QCustomPlot* rank_mem_plot_;  // data parallel runs: each rank's memory
    QCustomPlot* pref_plot_;
    QCustomPlot* probe_plot_;  // one curve per probe: the forgetting (and learning) of continued pretraining
    QStringList probe_names_;
    QHash<QString, QCPGraph*> probe_graphs_;
    QCustomPlot* task_plot_;  // one curve per eval_tasks score: what the finetune does to the benchmarks
    QStringList task_curve_names_;
    QHash<QString, QCPGraph*> task_graphs_;
    QPlainTextEdit* log_;
    QHash<qint64, QCPGraph*> overlays_;
    QHash<qint64, QPair<QVector<double>, QVector<double>>> overlay_data_;  // steps, raw losses: re-smoothed with the slider
    QHash<qint64, RankLaunch> ranks_of_run_;  // runs started here: Resume starts the same ranks again
    QTimer* watch_timer_;  // re-reads a run that another process is training (left running earlier)
    QVector<qint64> checkpoint_steps_;  // markers are re-placed on the smoothed curve when it changes
    bool follow_ = true;  // rescale to the data until the user zooms or pans
};
