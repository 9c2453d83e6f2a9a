using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace WebLlm.Server.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class Reliability : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<long>(
                name: "ResumedFromStep",
                table: "Runs",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "SkippedSteps",
                table: "Runs",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<bool>(
                name: "Corrupt",
                table: "Checkpoints",
                type: "INTEGER",
                nullable: false,
                defaultValue: false);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "ResumedFromStep",
                table: "Runs");

            migrationBuilder.DropColumn(
                name: "SkippedSteps",
                table: "Runs");

            migrationBuilder.DropColumn(
                name: "Corrupt",
                table: "Checkpoints");
        }
    }
}
