using System.Text.Json;
using System.Text.Json.Serialization;
using WebLlm.Contracts;

namespace WebLlm.Client.Services;

/// <summary>
/// Source-generated JSON metadata for what the hub pushes. Without it every push is read through reflection, which
/// the browser's WebAssembly interpreter runs slowly; a watched run receives several pushes a second.
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
