using System.Text.Json;
using System.Text.Json.Serialization;
using WebLlm.Contracts;

namespace WebLlm.Client.Services;

/// <summary>
/// Source-generated JSON metadata for what the hub pushes, so reading a push needs no reflection (friendlier to trimming
/// and the WebAssembly interpreter). Measured on the run page, it did not change the time a push takes: that is
/// SignalR's own receive path (docs/PERFORMANCE.md, "The dashboard's cost").
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(IReadOnlyList<StepMetricDto>))]
[JsonSerializable(typeof(EvalDto))]
[JsonSerializable(typeof(SampleDto))]
[JsonSerializable(typeof(CheckpointDto))]
[JsonSerializable(typeof(SystemMetricDto))]
[JsonSerializable(typeof(RunDto))]
[JsonSerializable(typeof(DatasetDto))]
[JsonSerializable(typeof(int))]
internal sealed partial class HubJson : JsonSerializerContext;
