using System.CommandLine;
using WebLlm.Training.Checkpoints;
using WebLlm.Training.Data;
using WebLlm.Training.Interop;
using WebLlm.Training.Tokenization;

namespace WebLlm.Cli;

public static class ImportCommand
{
    public static Command Create()
    {
        var from = new Option<string>("--from") { Description = "hf (a Hugging Face GPT-2 folder: model.safetensors + config.json) or llmc (an llm.c model .bin).", Required = true };
        from.AcceptOnlyFromAmong("hf", "llmc");
        var input = new Option<string>("--input") { Description = "The folder (hf) or file (llmc) to import.", Required = true };
        var output = new Option<string>("--out") { Description = "Run folder to create; the model becomes its checkpoint at step 0.", Required = true };
        var data = new Option<string?>("--data") { Description = "Dataset folder whose tokenizer the model uses (default: GPT-2's, for a 50257-token vocabulary)." };

        var command = new Command("import", "Import GPT-2 weights from Hugging Face or llm.c, to sample from or to fine-tune (train --init-from).")
        {
            from, input, output, data,
        };
        command.SetAction(parse => CliRunner.Guard(() =>
        {
            string outDir = parse.GetValue(output)!, source = parse.GetValue(input)!;
            if (new RunFolder(outDir).ListCheckpoints().Count > 0)
                throw new ArgumentException($"{outDir} already has checkpoints; choose another --out.");
            TokenizerSpec? tokenizer = parse.GetValue(data) is string d ? DatasetMeta.Load(d).Tokenizer : null;
            var info = parse.GetValue(from) == "hf"
                ? HuggingFaceGpt2.Import(RequireDirectory(source), outDir, tokenizer)
                : LlmCModel.Import(RequireFile(source), outDir, tokenizer);
            var manifest = Checkpoint.ReadManifest(info.Directory);
            var m = manifest.Model;
            Console.WriteLine($"imported {source} → {info.Directory}: n_layer={m.NLayer} n_head={m.NHead} n_embd={m.NEmbd} " +
                              $"context={m.BlockSize} vocab={m.VocabSize}, {m.ParameterCount:N0} parameters, {manifest.Tokenizer.Kind} tokenizer");
            return CliRunner.Ok;
        }));
        return command;
    }

    internal static string RequireDirectory(string path) =>
        Directory.Exists(path) ? path : throw new DirectoryNotFoundException($"'{path}' is not a folder.");

    internal static string RequireFile(string path) =>
        File.Exists(path) ? path : throw new FileNotFoundException($"'{path}' does not exist.");
}

public static class ExportCommand
{
    public static Command Create()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "A checkpoint folder, or a run folder (its newest checkpoint).", Required = true };
        var to = new Option<string>("--to") { Description = "hf (folder with model.safetensors + config.json) or llmc (an llm.c fp32 model .bin).", Required = true };
        to.AcceptOnlyFromAmong("hf", "llmc");
        var output = new Option<string>("--out") { Description = "Folder (hf) or file (llmc) to write.", Required = true };

        var command = new Command("export", "Export a checkpoint for Hugging Face transformers or llm.c.") { checkpoint, to, output };
        command.SetAction(parse => CliRunner.Guard(() =>
        {
            string dir = SampleCommand.ResolveCheckpoint(parse.GetValue(checkpoint)!);
            string outPath = parse.GetValue(output)!;
            if (parse.GetValue(to) == "hf")
            {
                HuggingFaceGpt2.Export(dir, outPath);
            }
            else
            {
                var (model, _) = Checkpoint.LoadModel(dir);
                using (model) LlmCModel.Save(model, outPath);
            }
            Console.WriteLine($"exported {dir} → {outPath}");
            return CliRunner.Ok;
        }));
        return command;
    }
}
