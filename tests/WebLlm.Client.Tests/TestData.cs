using WebLlm.Contracts;

namespace WebLlm.Client.Tests;

/// <summary>Small builders for wire objects.</summary>
public static class TestData
{
    public static StepMetricDto Step(long step, double? loss = 2.0) =>
        new(step, loss, 1e-3, 0.5, 1000, 10, 0.01, step * 256, step * 0.1, loss is null);

    public static IEnumerable<StepMetricDto> Steps(long from, long to) =>
        Enumerable.Range((int)from, (int)(to - from + 1)).Select(s => Step(s, 3.0 - s * 0.001));

    public static RunDto Run(int id = 1, RunStatus status = RunStatus.Running, long step = 0) => new()
    {
        Id = id,
        Name = $"run-{id}",
        Preset = "tiny",
        Model = new ModelConfigDto(4, 4, 128, 64, 65, 0, true, 818_048),
        Training = new TrainingConfigDto(1000, 8, 64, 1, 1e-3, 1e-4, 10, 0.1, 1, 100, 10, 200, 64, 500, ["The "], 1337),
        DatasetId = 1,
        DatasetName = "builtin",
        Status = status,
        CreatedUtc = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc),
        CurrentStep = step,
    };

    public static DatasetDto Dataset(int id = 1, DatasetStatus status = DatasetStatus.Ready) => new()
    {
        Id = id, Name = id == 1 ? "builtin" : $"ds-{id}", Source = id == 1 ? "builtin" : "upload", Tokenizer = "char",
        Status = status, VocabSize = 65, TrainTokens = 1_000_000, ValTokens = 100_000, CreatedUtc = DateTime.UtcNow,
    };
}
