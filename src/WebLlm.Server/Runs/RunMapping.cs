using System.Text.Json;
using WebLlm.Contracts;
using WebLlm.Server.Persistence;
using WebLlm.Training.Model;
using WebLlm.Training.Loop;

namespace WebLlm.Server.Runs;

/// <summary>Entities to DTOs and stored configs to the training core's types.</summary>
public static class RunMapping
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static RunDto ToDto(RunEntity r)
    {
        var model = JsonSerializer.Deserialize<ModelConfigDto>(r.ModelConfigJson, Json)!;
        var training = JsonSerializer.Deserialize<TrainingConfigDto>(r.TrainingConfigJson, Json)!;
        long tokensPerStep = (long)training.BatchSize * training.BlockSize * training.GradAccum;
        double? eta = r.Status != RunStatus.Running ? null
            : r.TokensPerSecond is > 0 && tokensPerStep > 0 ? (training.MaxSteps - r.CurrentStep) * tokensPerStep / r.TokensPerSecond.Value
            : r.Engine is not null && r.CurrentStep > 0 && r.ElapsedSeconds > 0 && training.MaxSteps > r.CurrentStep
                ? (training.MaxSteps - r.CurrentStep) * r.ElapsedSeconds / r.CurrentStep // external: the pace so far
                : null;
        return new RunDto
        {
            Id = r.Id,
            Name = r.Name,
            Preset = r.Preset,
            Model = model,
            Training = training,
            DatasetId = r.DatasetId,
            DatasetName = r.DatasetName,
            Status = r.Status,
            StatusReason = r.StatusReason,
            Device = r.Device,
            CreatedUtc = Utc(r.CreatedUtc),
            StartedUtc = r.StartedUtc is { } s ? Utc(s) : null,
            EndedUtc = r.EndedUtc is { } e ? Utc(e) : null,
            ElapsedSeconds = r.ElapsedSeconds,
            CurrentStep = r.CurrentStep,
            LastLoss = r.LastLoss,
            LastValLoss = r.LastValLoss,
            BestValLoss = r.BestValLoss,
            TokensPerSecond = r.TokensPerSecond,
            Mfu = r.Mfu,
            EtaSeconds = eta,
            Engine = r.Engine,
            LatestCheckpointStep = r.LatestCheckpointStep,
            SkippedSteps = r.SkippedSteps,
            ResumedFromStep = r.ResumedFromStep,
        };
    }

    /// <summary>SQLite returns DateTime as Unspecified; everything stored is UTC, so say so (the JSON gets a Z).</summary>
    public static DateTime Utc(DateTime d) => DateTime.SpecifyKind(d, DateTimeKind.Utc);

    public static StepMetricDto ToDto(StepMetricEntity m) =>
        new(m.Step, m.Loss, m.LearningRate, m.GradNorm, m.TokensPerSecond, m.Milliseconds, m.Mfu, m.TokensSeen, m.ElapsedSeconds, m.NonFinite);

    public static GptConfig ToGptConfig(ModelConfigDto m) => new()
    {
        NLayer = m.NLayer, NHead = m.NHead, NEmbd = m.NEmbd, BlockSize = m.BlockSize, VocabSize = m.VocabSize, Dropout = m.Dropout, Bias = m.Bias,
    };

    public static ModelConfigDto ToDto(GptConfig c) => new(c.NLayer, c.NHead, c.NEmbd, c.BlockSize, c.VocabSize, c.Dropout, c.Bias, c.ParameterCount);

    public static TrainOptions ToTrainOptions(TrainingConfigDto t, WebLlmOptions settings, double peakFlops) => new()
    {
        MaxSteps = t.MaxSteps,
        BatchSize = t.BatchSize,
        BlockSize = t.BlockSize,
        GradAccumSteps = t.GradAccum,
        LearningRate = t.LearningRate,
        MinLearningRate = t.MinLearningRate,
        WarmupSteps = t.WarmupSteps,
        WeightDecay = t.WeightDecay,
        GradClip = t.GradClip,
        EvalEvery = t.EvalEvery,
        EvalBatches = t.EvalBatches,
        SampleEvery = t.SampleEvery,
        SampleTokens = t.SampleTokens,
        CheckpointEvery = t.CheckpointEvery,
        SamplePrompts = t.SamplePrompts,
        Seed = t.Seed,
        Threads = settings.Threads > 0 ? settings.Threads : Environment.ProcessorCount,
        Device = settings.Device,
        PeakFlops = peakFlops,
        MaxBadSteps = settings.MaxBadSteps,
        KeepCheckpoints = settings.KeepCheckpoints,
    };
}
