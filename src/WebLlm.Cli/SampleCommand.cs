using System.CommandLine;
using System.Diagnostics;
using WebLlm.Training.Checkpoints;
using WebLlm.Training.Sampling;
using WebLlm.Training.Tokenization;

namespace WebLlm.Cli;

public static class SampleCommand
{
    public static Command Create()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "A checkpoint folder, or a run folder (its newest checkpoint is used).", Required = true };
        var prompt = new Option<string>("--prompt") { Description = "Text to continue (default: a newline).", DefaultValueFactory = _ => "\n" };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Tokens to generate.", DefaultValueFactory = _ => 200 };
        var temperature = new Option<double>("--temperature") { Description = "0 = greedy; higher is more random.", DefaultValueFactory = _ => 0.8 };
        var topK = new Option<int>("--top-k") { Description = "Keep the k most likely tokens (0 = all).", DefaultValueFactory = _ => 200 };
        var topP = new Option<double>("--top-p") { Description = "Nucleus sampling threshold (1 = off).", DefaultValueFactory = _ => 1.0 };
        var seed = new Option<ulong>("--seed") { Description = "Same seed, same text.", DefaultValueFactory = _ => 1337UL };
        var stop = new Option<string[]>("--stop") { Description = "Stop before this text (repeatable)." };
        var gpt2Vocab = CliRunner.Gpt2VocabOption();

        var command = new Command("sample", "Generate text from a checkpoint, streaming tokens as they are produced.")
        {
            checkpoint, prompt, maxTokens, temperature, topK, topP, seed, stop, gpt2Vocab,
        };
        command.SetAction(parse => CliRunner.Guard(() =>
        {
            var options = new SamplingOptions
            {
                MaxNewTokens = parse.GetValue(maxTokens),
                Temperature = parse.GetValue(temperature),
                TopK = parse.GetValue(topK),
                TopP = parse.GetValue(topP),
                Seed = parse.GetValue(seed),
                Stop = parse.GetValue(stop) ?? [],
            };
            options.Validate();
            string dir = ResolveCheckpoint(parse.GetValue(checkpoint)!);
            var manifest = Checkpoint.ReadManifest(dir);
            var tokenizer = Tokenizer.Create(manifest.Tokenizer, CliRunner.VocabFor(manifest.Tokenizer.Kind, parse.GetValue(gpt2Vocab)));
            var (model, _) = Checkpoint.LoadModel(dir);
            using (model)
            using (var sampler = new Sampler(model, tokenizer))
            {
                string text = parse.GetValue(prompt)!;
                Console.Error.WriteLine($"checkpoint {dir} (step {manifest.Step})");
                Console.Write(text);
                var sw = Stopwatch.StartNew();
                int n = 0;
                foreach (var token in sampler.Generate(text, options))
                {
                    Console.Write(token.Text);
                    Console.Out.Flush();
                    n++;
                }
                Console.WriteLine();
                Console.Error.WriteLine($"{n} tokens in {sw.Elapsed.TotalSeconds:F2} s ({n / sw.Elapsed.TotalSeconds:F1} tok/s)");
            }
            return CliRunner.Ok;
        }));
        return command;
    }

    /// <summary>A checkpoint folder as is; a run folder → its newest complete checkpoint.</summary>
    public static string ResolveCheckpoint(string path)
    {
        if (File.Exists(Path.Combine(path, Checkpoint.ManifestFile))) return path;
        if (!Directory.Exists(path)) throw new DirectoryNotFoundException($"'{path}' does not exist.");
        return new RunFolder(path).NewestCheckpoint()?.Directory
            ?? throw new FileNotFoundException($"'{path}' is neither a checkpoint nor a run folder with a complete checkpoint.");
    }
}
