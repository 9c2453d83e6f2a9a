using System.Text.Json;
using System.Text.Json.Serialization;
using WebLlm.Contracts;

namespace WebLlm.Client.Services;

/// <summary>
/// Source-generated JSON metadata for what the hub pushes, so reading a push needs no reflection (friendlier to trimming
/// and the WebAssembly interpreter). Step metrics, the bulk of a live run's pushes, are not JSON objects at all but
/// <see cref="StepColumns"/> bytes: the interpreter read step objects at about 0.2 ms a step (docs/PERFORMANCE.md,
/// "The dashboard's cost").
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(byte[]))]
[JsonSerializable(typeof(EvalDto))]
[JsonSerializable(typeof(SampleDto))]
[JsonSerializable(typeof(CheckpointDto))]
[JsonSerializable(typeof(SystemMetricDto))]
[JsonSerializable(typeof(RunDto))]
[JsonSerializable(typeof(DatasetDto))]
[JsonSerializable(typeof(int))]
internal sealed partial class HubJson : JsonSerializerContext;
