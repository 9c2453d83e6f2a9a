using System.Diagnostics;

namespace WebLlm.Cli.Tests;

/// <summary>Runs the built webllm as a real child process, as a user would.</summary>
internal static class Webllm
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public string[] Lines => Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    public static Result Run(string workingDirectory, params string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "webllm.dll");
        var psi = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"webllm {string.Join(' ', args)} did not finish in 3 minutes.");
        }
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>One root per test process, removed when the process exits, so runs do not pile up folders in /tmp.</summary>
    private static readonly string TempRoot = CreateTempRoot();

    private static string CreateTempRoot()
    {
        string root = Path.Combine(Path.GetTempPath(), "webllm-cli-tests", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        };
        return root;
    }

    public static string TempDir()
    {
        string dir = Path.Combine(TempRoot, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>A few kilobytes of dialogue, enough for a character-level model to learn something in seconds.</summary>
    public static string WriteCorpus(string dir)
    {
        var lines = new List<string>();
        string[] speakers = ["First Citizen", "Second Citizen", "All", "Menenius"];
        string[] words = ["speak", "hear", "me", "we", "are", "resolved", "rather", "to", "die", "than", "famish", "the", "people", "corn", "price"];
        var rng = new Random(3);
        for (int i = 0; i < 300; i++)
        {
            lines.Add(speakers[rng.Next(speakers.Length)] + ":");
            lines.Add(string.Join(' ', Enumerable.Range(0, 6 + rng.Next(6)).Select(_ => words[rng.Next(words.Length)])) + ".");
            lines.Add("");
        }
        string path = Path.Combine(dir, "corpus.txt");
        File.WriteAllLines(path, lines);
        return path;
    }
}
